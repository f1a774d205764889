"""Registered models and versions as the MLflow client reads them, and the reads that shape them.

`version` is a JSON string, timestamps integer milliseconds, tags lists of `{key, value}`. A version's
`current_stage` is its real stage in MLflow's words (Draft is "None"); the stage aliases `production` and
`staging` name the production version and the newest staging one, beside the free-form aliases callers set.
Every read runs a fixed number of queries, whatever the number of rows.
"""

from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, Max, OuterRef, Prefetch, QuerySet
from django.db.models.functions import Coalesce, Greatest

from warehouse.api.models import MlflowAlias, MlflowModelTag, MlflowVersionTag
from warehouse.registry.models import ArtifactKind, ModelVersion, RegisteredModel, Stage
from warehouse.registry.uris import tracked_source_match
from warehouse.tracking.models import ImportState

MLFLOW_STAGE = {
    Stage.DRAFT: "None",
    Stage.STAGING: "Staging",
    Stage.PRODUCTION: "Production",
    Stage.ARCHIVED: "Archived",
}
STAGE_OF_MLFLOW = {name.lower(): stage for stage, name in MLFLOW_STAGE.items()}
# The aliases that are stages: answered from the real stage, never set through MLflow.
STAGE_ALIASES = {"production": Stage.PRODUCTION, "staging": Stage.STAGING, "archived": Stage.ARCHIVED}
# Which stage aliases name a version (the newest, for staging): archived names many, none in particular.
ANSWERED_STAGE_ALIASES = ("production", "staging")


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def versions_shaped(versions: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    """What `version_json` reads: three queries for any number of versions."""
    return versions.select_related("model", "registered_by", "source_run", "run_import").prefetch_related(
        "artifacts",
        Prefetch("mlflow_tags", queryset=MlflowVersionTag.objects.order_by("key")),
        Prefetch("mlflow_aliases", queryset=MlflowAlias.objects.order_by("alias")),
    )


def version_source(version: ModelVersion) -> str:
    """The URI the version's weights were registered at (its first artifact when none is weights)."""
    artifacts = sorted(version.artifacts.all(), key=lambda a: (a.kind != ArtifactKind.WEIGHTS, a.pk))
    return source_of(version, [artifact.uri for artifact in artifacts])


def source_of(version: ModelVersion, uris_weights_first: list[str]) -> str:
    """The first of the version's artifact URIs, weights first; for a version registered through MLflow whose
    evidence is pending (no artifacts yet), the source it was registered from. A version registered from a
    tracked run answers its source as MLflow does (`models:/m-…`, `runs:/…/model`): the client resolves it
    on its tracking server, where the files the warehouse hashed are."""
    if tracked_source_match(version.source_uri):
        return version.source_uri
    return uris_weights_first[0] if uris_weights_first else version.source_uri


def imported_model_directory(version: ModelVersion) -> str | None:
    """For a version whose evidence was imported from a tracked run: the directory of the model's files on
    the tracking server (`mlflow-artifacts:/…`), which the client downloads whole from its tracking server.
    None for any other version (and while the import has not written the artifacts)."""
    if not tracked_source_match(version.source_uri):
        return None
    first = next(iter(version.artifacts.all()), None)
    if first is None or not first.uri.endswith(f"/{first.name}"):
        return None
    return first.uri.removesuffix(f"/{first.name}")


def registration_status(version: ModelVersion) -> tuple[str, str]:
    """MLflow's status and status message. A version whose evidence is being imported from its run is
    PENDING_REGISTRATION (`register_model` waits for it), then READY, or FAILED_REGISTRATION with why."""
    if not version.evidence_pending:
        return "READY", ""
    try:
        run_import = version.run_import
    except ObjectDoesNotExist:
        return "READY", ""  # its evidence is attached by the pipeline, with PUT …/evidence
    if run_import.state == ImportState.FAILED:
        return "FAILED_REGISTRATION", f"The evidence import failed: {run_import.last_error}"
    return "PENDING_REGISTRATION", f"Importing the evidence of run {run_import.run_id} ({run_import.state})."


def newest_staging_number(model: RegisteredModel) -> int | None:
    return ModelVersion.objects.filter(model=model, stage=Stage.STAGING).aggregate(top=Max("number"))["top"]


def version_json(version: ModelVersion, *, staging_number: int | None = None) -> dict:
    """A version fetched through `versions_shaped`, with the stage alias it carries (production, or staging
    for the newest staging version, `staging_number`)."""
    aliases = [alias.alias for alias in version.mlflow_aliases.all()]
    if version.stage == Stage.PRODUCTION or (
        version.stage == Stage.STAGING and version.number == staging_number
    ):
        aliases.insert(0, version.stage.lower())
    return version_document(
        version,
        source=version_source(version),
        tags=[(tag.key, tag.value) for tag in version.mlflow_tags.all()],
        aliases=aliases,
    )


def version_document(
    version: ModelVersion, *, source: str, tags: list[tuple[str, str]], aliases: list[str]
) -> dict:
    """A ModelVersion in MLflow's words, however its source, tags and aliases were read. Needs the version
    with its model, registrant and source run."""
    source_run = getattr(version, "source_run", None)
    status, status_message = registration_status(version)
    return {
        "name": version.model.name,
        "version": str(version.number),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(max(version.created_at, version.stage_changed_at)),
        "user_id": version.registered_by.get_username(),
        "current_stage": MLFLOW_STAGE[version.stage],
        "description": version.description,
        "source": source,
        "run_id": source_run.run_id if source_run else version.run_id,
        "run_link": source_run.url if source_run else "",
        "status": status,
        "status_message": status_message,
        "tags": [{"key": key, "value": value} for key, value in tags],
        "aliases": aliases,
    }


def models_annotated(models: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
    """With `last_updated` (the latest of its creation and its versions' registrations and stage changes),
    which search orders by."""
    return models.annotate(
        last_updated=Greatest("created_at", Coalesce(Max("versions__stage_changed_at"), "created_at"))
    )


def latest_versions(models: list[RegisteredModel], stages: list[str] | None = None) -> list[ModelVersion]:
    """The newest version in each stage of each of `models` (one query plus versions_shaped's)."""
    newer = ModelVersion.objects.filter(
        model=OuterRef("model"), stage=OuterRef("stage"), number__gt=OuterRef("number")
    )
    versions = ModelVersion.objects.filter(model__in=models).exclude(Exists(newer))
    if stages is not None:
        versions = versions.filter(stage__in=stages)
    return list(versions_shaped(versions).order_by("model__name", "number"))


def _model_aliases(models: list[RegisteredModel], latest: list[ModelVersion]) -> dict[int, list[dict]]:
    aliases: dict[int, list[dict]] = {model.pk: [] for model in models}
    for version in latest:
        if version.stage in (Stage.PRODUCTION, Stage.STAGING):
            aliases[version.model_id].append({"alias": version.stage.lower(), "version": str(version.number)})
    for alias in MlflowAlias.objects.filter(model__in=models).select_related("version").order_by("alias"):
        aliases[alias.model_id].append({"alias": alias.alias, "version": str(alias.version.number)})
    return aliases


def models_json(models: list[RegisteredModel]) -> list[dict]:
    """Registered models with their tags, aliases and latest versions: six queries for any number."""
    if not models:
        return []
    latest = latest_versions(models)
    tags: dict[int, list[dict]] = {model.pk: [] for model in models}
    for tag in MlflowModelTag.objects.filter(model__in=models).order_by("key"):
        tags[tag.model_id].append({"key": tag.key, "value": tag.value})
    aliases = _model_aliases(models, latest)
    answers = []
    for model in models:
        own = [version for version in latest if version.model_id == model.pk]
        staging = next((v.number for v in own if v.stage == Stage.STAGING), None)
        updated = getattr(model, "last_updated", None) or max([model.created_at, *(_updated(v) for v in own)])
        answers.append(
            {
                "name": model.name,
                "creation_timestamp": millis(model.created_at),
                "last_updated_timestamp": millis(updated),
                "user_id": model.owner.get_username(),
                "description": model.description,
                "latest_versions": [version_json(v, staging_number=staging) for v in own],
                "tags": tags[model.pk],
                "aliases": aliases[model.pk],
            }
        )
    return answers


def _updated(version: ModelVersion) -> datetime:
    return max(version.created_at, version.stage_changed_at)
