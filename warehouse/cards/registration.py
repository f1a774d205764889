"""Registering a version together with its first card: the one registration every door uses (the API,
the registration page, the demo). Here, not in registry, because the card belongs to cards, which sits
above registry; the version itself is still written by registry's `version_register`."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.http import Http404

from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.accounts.reach import reach_of
from warehouse.accounts.roles import Role
from warehouse.cards.services import card_revision_write, card_sections_parse, sections_render
from warehouse.errors import InvalidInput
from warehouse.machine_http import json_document
from warehouse.registry.evidence import Evidence, evidence_parse
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.services import (
    ModelNameTaken,
    description_problem,
    model_create,
    model_name_problem,
    version_register,
)


def registration_open_to(user) -> bool:
    """Whether `user` may register a version of some model, or create one: the registration page offers its
    form only then, instead of a refusal after the whole form is filled in. The main navigation's rule too
    (accounts' reach), so the link and the page never disagree."""
    return reach_of(user).register


@dataclass(frozen=True)
class NewModel:
    """A model to create with its first version."""

    name: str
    description: str = ""
    team: Group | None = None


def version_register_with_card(
    *, actor, model: RegisteredModel | NewModel, evidence: Evidence, card_sections: dict[str, str]
) -> ModelVersion:
    """Register a version with its evidence and, when given, its first card: one transaction, all or nothing.

    `model` may be a NewModel, created in the same transaction (that needs the permission to create models).
    Permissions are checked before the transaction opens, so a refusal's audit event is not rolled back
    with it. Registering includes writing the first card, so the register permission covers that.
    """
    if isinstance(model, NewModel):
        for perm, attempted in (
            ("registry.add_registeredmodel", f"create the model {model.name!r}"),
            ("registry.register_version", f"register versions of {model.name!r}"),
        ):
            if not (actor.is_superuser or actor.has_perm(perm)):
                raise permission_denied(actor=actor, target=None, permission=perm, attempted=attempted)
        if (
            model.team is not None
            and not actor.is_superuser
            and not actor.groups.filter(pk=model.team.pk).exists()
        ):
            raise InvalidInput(
                {
                    "model.team": [
                        f"You can only create a model for a team you belong to, not {model.team.name!r}."
                    ]
                }
            )
    else:
        model_access(actor, model).require(
            "registry.register_version", attempted=f"register versions of {model.name}"
        )
    sections_html = sections_render(card_sections)
    with transaction.atomic():
        if isinstance(model, NewModel):
            model = model_create(actor=actor, name=model.name, description=model.description, team=model.team)
        version = version_register(actor=actor, model=model, evidence=evidence)
        if card_sections:
            card_revision_write(
                actor=actor,
                version=version,
                sections=card_sections,
                sections_html=sections_html,
                summary="First card, at registration",
                first=True,
            )
    return version


# --- Reading a registration, for every door (API, page) -------------------------------------------------

REGISTRATION_FIELDS = frozenset({"card", "model"})


@dataclass(frozen=True)
class Registration:
    evidence: Evidence
    card_sections: dict[str, str]
    model_description: str
    model_team: Group | None


def registration_parse(payload: Any) -> Registration:
    """Read a whole registration body; raise InvalidInput listing every bad field at once."""
    errors: dict[str, list[str]] = {}
    evidence = card_sections = None
    try:
        evidence = evidence_parse(payload, other_fields=REGISTRATION_FIELDS)
    except InvalidInput as error:
        errors.update(error.errors)
    if not isinstance(payload, Mapping):
        raise InvalidInput(errors)
    try:
        card_sections = card_sections_parse(payload.get("card"))
    except InvalidInput as error:
        errors.update(error.errors)
    description, team = "", None
    model_info = payload.get("model")
    if model_info is not None:
        if not isinstance(model_info, Mapping):
            errors["model"] = ["Must be an object with 'description' and 'team'."]
        else:
            for key in sorted(set(model_info) - {"description", "team"}):
                errors[f"model.{key}"] = ["Unknown field; expected one of: description, team."]
            description = model_info.get("description") or ""
            problem = description_problem(description)
            if problem:
                errors["model.description"] = [problem]
                description = ""
            team_name = model_info.get("team")
            if team_name:
                # A role group is not a team: granting it view would show the model to everyone in that role.
                team = (
                    Group.objects.exclude(name__in=Role.values).filter(name=team_name).first()
                    if isinstance(team_name, str)
                    else None
                )
                if team is None:
                    errors["model.team"] = [f"No team named {team_name!r}."]
    if errors:
        raise InvalidInput(errors)
    return Registration(
        evidence=evidence, card_sections=card_sections, model_description=description, model_team=team
    )


def version_register_named(*, actor, model_name: str, registration: Registration) -> ModelVersion:
    """Register into the model called `model_name`, creating it when it does not exist yet.

    Someone who may not see a model, or may not create one, is told only "no such model": the answer does
    not reveal which models exist. The attempt is on the record either way. Two pipelines creating the
    same new model at once both succeed: the one that loses the race registers into the winner's model.
    """
    model = RegisteredModel.objects.filter(name=model_name).first()
    if model is None:
        problem = model_name_problem(model_name)
        if problem:
            raise InvalidInput({"model": [problem]})
        if not (actor.is_superuser or actor.has_perm("registry.add_registeredmodel")):
            permission_denied(
                actor=actor,
                target=None,
                permission="registry.add_registeredmodel",
                attempted=f"create the model {model_name!r} by registering into it",
            )
            raise Http404("No such model, or you may not see it.")
        new_model = NewModel(
            name=model_name, description=registration.model_description, team=registration.model_team
        )
        try:
            return version_register_with_card(
                actor=actor,
                model=new_model,
                evidence=registration.evidence,
                card_sections=registration.card_sections,
            )
        except ModelNameTaken:
            model = RegisteredModel.objects.get(name=model_name)
    if not model_access(actor, model).can_view:
        permission_denied(
            actor=actor,
            target=model,
            permission="registry.view_registeredmodel",
            attempted=f"register versions of {model_name} (a model they may not see)",
        )
        raise Http404("No such model, or you may not see it.")
    return version_register_with_card(
        actor=actor, model=model, evidence=registration.evidence, card_sections=registration.card_sections
    )


# --- A registration body given whole, as the API's JSON (the register page's paste and upload) ----------

# The API's limit on a body (api.http.MAX_BODY_BYTES), which the page holds an uploaded document to.
REGISTRATION_DOCUMENT_MAX_BYTES = 5 * 1024 * 1024

# The API's schema reads a body before `registration_parse` does: it refuses what the parser would let by
# (`"0.9"` for a number, a field given twice its type). It lives in api, above cards, so api lends it here at
# start-up (ApiConfig.ready), as promotions lends its stage listener to the registry.
_schema_reads: list[Callable[[Any], Any]] = []


def registration_schema_lend(read: Callable[[Any], Any]) -> None:
    """`read(document)` answers the body as the API's schema cleaned it, or raises InvalidInput."""
    if read not in _schema_reads:
        _schema_reads.append(read)


def registration_document_parse(body: bytes) -> Registration:
    """A registration body read exactly as POST /api/v1/models/<name>/versions reads it: strict JSON (UTF-8,
    no NUL or lone surrogate), the API's schema, then `registration_parse`. Or InvalidInput, by path."""
    if len(body) > REGISTRATION_DOCUMENT_MAX_BYTES:
        raise InvalidInput({"body": [f"At most {REGISTRATION_DOCUMENT_MAX_BYTES // (1024 * 1024)} MB."]})
    if not _schema_reads:
        raise RuntimeError("The API's registration schema was not lent (is warehouse.api installed?).")
    document = json_document(body)
    for read in _schema_reads:
        document = read(document)
    return registration_parse(document)


def registration_of(version: ModelVersion) -> dict[str, Any]:
    """`version`'s evidence and current card as a registration body: a start for the next version (the
    evidence of `version` itself never changes). Its description is left to write."""
    body: dict[str, Any] = {
        "description": "",
        "artifacts": [_artifact_of(a) for a in version.artifacts.all()],
    }
    source_run = getattr(version, "source_run", None)
    if source_run is not None:
        body["source_run"] = _without_blanks(
            {
                "tracking_system": source_run.tracking_system,
                "run_id": source_run.run_id,
                "url": source_run.url,
                "git_commit": source_run.git_commit,
                "training_data": source_run.training_data,
            }
        )
    evaluation = getattr(version, "evaluation", None)
    if evaluation is not None:
        body["evaluation"] = _without_blanks(
            {
                "dataset": evaluation.dataset,
                "dataset_version": evaluation.dataset_version,
                "metrics": [
                    {"name": m.name, "value": m.value, "direction": m.direction}
                    for m in evaluation.metrics.order_by("name")
                ],
                "slices": [
                    {
                        "slice": s.slice_key,
                        "metric": s.metric,
                        "value": s.value,
                        "sample_count": s.sample_count,
                    }
                    for s in evaluation.slices.order_by("slice_key", "metric")
                ],
            }
        )
    profile = getattr(version, "profile", None)
    if profile is not None:
        cost = profile.cost_per_1k_predictions
        body["profile"] = _without_blanks(
            {
                "latency_p50_ms": profile.latency_p50_ms,
                "latency_p95_ms": profile.latency_p95_ms,
                "latency_p99_ms": profile.latency_p99_ms,
                "hardware": profile.hardware,
                "throughput_rps": profile.throughput_rps,
                # A decimal string keeps the cost exact; the schema takes one.
                "cost_per_1k_predictions": None if cost is None else format(cost.normalize(), "f"),
                "currency": profile.currency,
            }
        )
    card = getattr(version, "card", None)
    if card is not None and card.current is not None:
        body["card"] = {key: text for key, text in card.current.sections.items() if text.strip()}
    return body


def _artifact_of(artifact) -> dict[str, Any]:
    return _without_blanks(
        {
            "name": artifact.name,
            "kind": artifact.kind,
            "uri": artifact.uri,
            "sha256": artifact.sha256,
            "size_bytes": artifact.size_bytes,
        }
    )


def _without_blanks(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}
