"""What MLflow callers may write: new models, descriptions, tags and free-form aliases, each in one
transaction with its permission check and audit event; and the governed refusals, audited.

Descriptions, tags and aliases are documentation: they need the permission to edit the model's card
(`registry.edit_card`). No tag or alias is read by a gate, a stage change or the production answer.
Tags under `mlflow.prompt.` are refused: Warehouse keeps models, not prompts.
"""

from django.db import transaction
from django.urls import reverse

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.api.mlflow.http import MlflowError, invalid
from warehouse.api.mlflow.shapes import STAGE_ALIASES
from warehouse.api.models import MlflowAlias, MlflowModelTag, MlflowVersionTag
from warehouse.api.serializers import absolute
from warehouse.audit.services import audit_record
from warehouse.errors import InvalidInput
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.services import description_problem, model_create, version_register_pending
from warehouse.registry.uris import tracked_source_match
from warehouse.tracking.imports import version_register_from_run
from warehouse.tracking.models import TrackingServer

EDIT = "registry.edit_card"
CREATE_MODEL = "registry.add_registeredmodel"
PROMPT_TAGS = "mlflow.prompt."
KEY_MAX_LENGTH = 250
VALUE_MAX_LENGTH = 5000


def _tag_checked(key: str, value: str = "") -> None:
    if not key or len(key) > KEY_MAX_LENGTH or "\x00" in key:
        raise invalid(f"A tag key is 1-{KEY_MAX_LENGTH} characters.")
    if key.startswith(PROMPT_TAGS):
        raise invalid("Warehouse keeps models, not prompts: tags under 'mlflow.prompt.' are not accepted.")
    if len(value) > VALUE_MAX_LENGTH or "\x00" in value:
        raise invalid(f"A tag value is at most {VALUE_MAX_LENGTH} characters.")


def _description_checked(description: str) -> None:
    problem = description_problem(description)
    if problem:
        raise invalid(f"description: {problem}")


def mlflow_model_create(
    *, actor, name: str, description: str, tags: list[tuple[str, str]]
) -> RegisteredModel:
    """A new model with its tags. An existing name is RESOURCE_ALREADY_EXISTS before anything else: the
    client's register_model goes on to register the version only on that answer."""
    if RegisteredModel.objects.filter(name=name).exists():
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists.")
    if not (actor.is_superuser or actor.has_perm(CREATE_MODEL)):
        raise permission_denied(
            actor=actor, target=None, permission=CREATE_MODEL, attempted=f"create the model {name!r}"
        )
    for key, value in tags:
        _tag_checked(key, value)
    with transaction.atomic():
        model = model_create(actor=actor, name=name, description=description)
        now = clock.now()
        MlflowModelTag.objects.bulk_create(
            [
                MlflowModelTag(model=model, key=key, value=value, updated_at=now)
                for key, value in dict(tags).items()
            ]
        )
        if tags:
            audit_record(
                actor=actor, action="model.tags_set", target=model, model_name=name, data={"tags": dict(tags)}
            )
    return model


# The version tag that names the tracking server a `runs:/` or `models:/` source is read from, when the
# warehouse trusts more than one.
TRACKING_SERVER_TAG = "warehouse.tracking_server"


def mlflow_version_create(
    *, actor, model: RegisteredModel, source: str, run_id: str, description: str, tags: list[tuple[str, str]]
) -> ModelVersion:
    """`model-versions/create`: the next version of `model` registered from `source` with its evidence
    pending (MLflow sends no digests, evaluation or profile), and its tags, in one transaction.

    A source on a tracking server (`models:/m-…`, as the client sends for a model logged by a run, or
    `runs:/<run>/<path>`) has its evidence imported from that run by a worker, from the configured server
    the tag `warehouse.tracking_server` names (or the only one). Any other source waits, in Draft, for the
    pipeline to attach the evidence through `PUT /api/v1/models/<name>/versions/<n>/evidence`."""
    for key, value in tags:
        _tag_checked(key, value)
    with transaction.atomic():
        if tracked_source_match(source):
            version = version_register_from_run(
                actor=actor,
                model=model,
                server_name=_tracking_server_named(dict(tags).get(TRACKING_SERVER_TAG)),
                run_id=run_id,
                source=source,
                description=description,
            )
        else:
            version = version_register_pending(
                actor=actor, model=model, source_uri=source, run_id=run_id, description=description
            )
        now = clock.now()
        MlflowVersionTag.objects.bulk_create(
            MlflowVersionTag(version=version, key=key, value=value, updated_at=now) for key, value in tags
        )
        if tags:
            audit_record(
                actor=actor,
                action="version.tag_set",
                target=version,
                model_name=model.name,
                data=dict(tags),
            )
    return version


def _tracking_server_named(named: str | None) -> str:
    """The server a tracked source is read from: the one the tag names, else the only one configured."""
    if named:
        return named
    active = list(TrackingServer.objects.filter(active=True).values_list("name", flat=True)[:2])
    if len(active) == 1:
        return active[0]
    raise InvalidInput(
        {
            "source": [
                "This source is a tracked run's model; no tracking server is configured to read it from."
                if not active
                else f"Several tracking servers are configured: name one with the tag {TRACKING_SERVER_TAG}."
            ]
        }
    )


def _require_edit(actor, model: RegisteredModel, attempted: str) -> None:
    model_access(actor, model).require(EDIT, attempted=attempted)


def _description_write(*, actor, locked, action: str, model_name: str, description: str) -> None:
    """Write a locked model's or version's description, on the record with what it was."""
    before = locked.description
    locked.description = description
    locked.save(update_fields=["description"])
    audit_record(
        actor=actor,
        action=action,
        target=locked,
        model_name=model_name,
        data={"before": before, "after": description},
    )


def model_description_set(*, actor, model: RegisteredModel, description: str) -> None:
    _description_checked(description)
    _require_edit(actor, model, f"edit the description of {model.name}")
    with transaction.atomic():
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        _description_write(
            actor=actor,
            locked=locked,
            action="model.description_changed",
            model_name=model.name,
            description=description,
        )
    model.description = description


def version_description_set(*, actor, version: ModelVersion, description: str) -> None:
    """A version's description says what changed; its evidence (artifacts, run, evaluation, profile)
    never changes."""
    _description_checked(description)
    _require_edit(actor, version.model, f"edit the description of {version.identifier}")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        _description_write(
            actor=actor,
            locked=locked,
            action="version.description_changed",
            model_name=version.model.name,
            description=description,
        )
    version.description = description


# A model's tags and a version's tags: the same writes, each on its own table, audited as
# model.tag_set / model.tag_deleted and version.tag_set / version.tag_deleted.
def _tag_put(*, actor, tags, owner, owner_field: str, model_name: str, key: str, value: str) -> None:
    with transaction.atomic():
        tags.objects.update_or_create(
            **{owner_field: owner}, key=key, defaults={"value": value, "updated_at": clock.now()}
        )
        audit_record(
            actor=actor,
            action=f"{owner_field}.tag_set",
            target=owner,
            model_name=model_name,
            data={key: value},
        )


def _tag_remove(*, actor, tags, owner, owner_field: str, model_name: str, label: str, key: str) -> None:
    with transaction.atomic():
        deleted, _ = tags.objects.filter(**{owner_field: owner}, key=key).delete()
        if not deleted:
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"{label} has no tag {key!r}.")
        audit_record(
            actor=actor,
            action=f"{owner_field}.tag_deleted",
            target=owner,
            model_name=model_name,
            data={"key": key},
        )


def model_tag_set(*, actor, model: RegisteredModel, key: str, value: str) -> None:
    _tag_checked(key, value)
    _require_edit(actor, model, f"tag {model.name}")
    _tag_put(
        actor=actor,
        tags=MlflowModelTag,
        owner=model,
        owner_field="model",
        model_name=model.name,
        key=key,
        value=value,
    )


def model_tag_delete(*, actor, model: RegisteredModel, key: str) -> None:
    _require_edit(actor, model, f"untag {model.name}")
    _tag_remove(
        actor=actor,
        tags=MlflowModelTag,
        owner=model,
        owner_field="model",
        model_name=model.name,
        label=model.name,
        key=key,
    )


def version_tag_set(*, actor, version: ModelVersion, key: str, value: str) -> None:
    _tag_checked(key, value)
    _require_edit(actor, version.model, f"tag {version.identifier}")
    _tag_put(
        actor=actor,
        tags=MlflowVersionTag,
        owner=version,
        owner_field="version",
        model_name=version.model.name,
        key=key,
        value=value,
    )


def version_tag_delete(*, actor, version: ModelVersion, key: str) -> None:
    _require_edit(actor, version.model, f"untag {version.identifier}")
    _tag_remove(
        actor=actor,
        tags=MlflowVersionTag,
        owner=version,
        owner_field="version",
        model_name=version.model.name,
        label=version.identifier,
        key=key,
    )


def alias_set(*, actor, version: ModelVersion, alias: str) -> None:
    """A free-form alias: a name MLflow callers resolve to a version, never a serving decision."""
    if alias.lower() in STAGE_ALIASES:
        raise stage_refused(
            actor=actor, model=version.model, version=version, attempted=f"set the alias {alias!r}"
        )
    _tag_checked(alias)
    _require_edit(actor, version.model, f"set the alias {alias!r} of {version.model.name}")
    with transaction.atomic():
        MlflowAlias.objects.update_or_create(
            model=version.model, alias=alias, defaults={"version": version, "updated_at": clock.now()}
        )
        audit_record(
            actor=actor,
            action="model.alias_set",
            target=version.model,
            model_name=version.model.name,
            data={"alias": alias, "version": version.number},
        )


def alias_delete(*, actor, model: RegisteredModel, alias: str) -> None:
    if alias.lower() in STAGE_ALIASES:
        raise stage_refused(actor=actor, model=model, version=None, attempted=f"delete the alias {alias!r}")
    _require_edit(actor, model, f"delete the alias {alias!r} of {model.name}")
    with transaction.atomic():
        deleted, _ = MlflowAlias.objects.filter(model=model, alias=alias).delete()
        if not deleted:
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"{model.name} has no alias {alias!r}.")
        audit_record(
            actor=actor,
            action="model.alias_deleted",
            target=model,
            model_name=model.name,
            data={"alias": alias},
        )


# --- Governed refusals ----------------------------------------------------------------------------------


def how_to_move(model: RegisteredModel, version: ModelVersion | None) -> str:
    if version is None:
        return (
            "A stage alias names the version in that stage: move a version by requesting its promotion "
            f"(POST {absolute('/api/v1/')}models/{model.name}/versions/<n>/promotions), or archive it "
            f"(POST .../versions/<n>/archive)."
        )
    request = absolute(reverse("promotions:request-create", args=[model.name, version.number]))
    return (
        f"Request its promotion (the gate runs and sign-offs are collected): {request}, or POST "
        f"{absolute('/api/v1/')}models/{model.name}/versions/{version.number}/promotions. To retire "
        f"it, POST {absolute('/api/v1/')}models/{model.name}/versions/{version.number}/archive."
    )


def how_to_retire(model: RegisteredModel, version: ModelVersion | None) -> str:
    where = f"models/{model.name}/versions/{version.number if version else '<n>'}/archive"
    return (
        "Models and versions stay on the record; a version that should not serve is archived: POST "
        f"{absolute('/api/v1/')}{where}."
    )


def stage_refused(
    *, actor, model: RegisteredModel, version: ModelVersion | None, attempted: str
) -> MlflowError:
    """A stage moves only through a promotion request (gate and sign-offs) or an archive; through MLflow,
    never. Audited as any refused attempt."""
    audit_record(
        actor=actor,
        action="permission.denied",
        target=version or model,
        model_name=model.name,
        data={"permission": "stage door", "attempted": f"{attempted} through MLflow", "via": "mlflow"},
    )
    return MlflowError(
        "PERMISSION_DENIED", f"Warehouse refuses to {attempted} through MLflow. {how_to_move(model, version)}"
    )


def removal_refused(
    *, actor, model: RegisteredModel, version: ModelVersion | None, attempted: str, why: str = ""
) -> MlflowError:
    """Models and versions are never deleted or renamed: what served stays on the record."""
    audit_record(
        actor=actor,
        action="permission.denied",
        target=version or model,
        model_name=model.name,
        data={
            "permission": "kept on the record",
            "attempted": f"{attempted} through MLflow",
            "via": "mlflow",
        },
    )
    return MlflowError(
        "PERMISSION_DENIED", f"Warehouse refuses to {attempted}. {why or how_to_retire(model, version)}"
    )
