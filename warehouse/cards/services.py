"""Writes to model cards, and registering a candidate together with its first card."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import models, transaction
from django.db.models import Max
from django.http import Http404

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.accounts.roles import Role
from warehouse.audit.services import audit_record
from warehouse.cards.markdown import markdown_to_safe_html
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.sections import HEADING_ALIASES, Section
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.evidence import Evidence, evidence_parse
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import (
    ModelNameTaken,
    description_problem,
    model_create,
    model_name_problem,
    version_register,
)
from warehouse.text import is_encodable

MAX_SECTION_LENGTH = 50_000
_H2 = re.compile(r"^##\s+(.+?)\s*#*\s*$")


def card_sections_parse(value: Any, *, path: str = "card") -> dict[str, str]:
    """Read a card given as {section: Markdown} or as one Markdown document with `## Section` headings.

    In a document, text before the first known heading belongs to the task; a heading the card does not
    know stays, with its text, inside the section it falls in, so nothing written is lost.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        return _sections_from_document(value, path)
    if not isinstance(value, Mapping):
        raise InvalidInput({path: ["Give the card as Markdown text or as an object of sections."]})
    errors: dict[str, list[str]] = {}
    sections: dict[str, str] = {}
    for key, text in value.items():
        if key not in Section.values:
            errors[f"{path}.{key}"] = [f"Unknown section; use one of: {', '.join(Section.values)}."]
        elif not isinstance(text, str):
            errors[f"{path}.{key}"] = ["Must be Markdown text."]
        elif len(text) > MAX_SECTION_LENGTH or "\x00" in text:
            errors[f"{path}.{key}"] = [f"At most {MAX_SECTION_LENGTH} characters, and no NUL characters."]
        elif not is_encodable(text):
            errors[f"{path}.{key}"] = ["Must be valid Unicode text: it holds a lone surrogate."]
        elif text.strip():
            sections[key] = text.strip()
    if errors:
        raise InvalidInput(errors)
    return sections


def _sections_from_document(document: str, path: str) -> dict[str, str]:
    if len(document) > MAX_SECTION_LENGTH * 4 or "\x00" in document:
        raise InvalidInput({path: ["The card is too long, or holds NUL characters."]})
    current = Section.TASK.value
    lines_by_section: dict[str, list[str]] = {}
    for line in document.splitlines():
        heading = _H2.match(line)
        if heading and heading.group(1).strip().lower() in HEADING_ALIASES:
            current = HEADING_ALIASES[heading.group(1).strip().lower()].value
            continue
        lines_by_section.setdefault(current, []).append(line)
    return {
        key: "\n".join(lines).strip() for key, lines in lines_by_section.items() if "\n".join(lines).strip()
    }


def card_revise(*, actor, version: ModelVersion, sections: dict[str, str], summary: str = "") -> CardRevision:
    """Save a new revision of the version's card (creating the card on first save).

    `sections` is {section: Markdown}; unknown sections, non-text and overlong text are refused with the
    field path, and nothing is written. Empty sections are dropped. A save that changes nothing is refused:
    a revision is a change.
    """
    model_access(actor, version.model).require(
        "registry.edit_card", attempted=f"edit the card of {version.identifier}"
    )
    sections = card_sections_parse(sections, path="sections")
    if not isinstance(summary, str) or len(summary) > 300 or "\x00" in summary:
        raise InvalidInput({"summary": ["A line of at most 300 characters."]})
    current = CardRevision.objects.filter(card__version=version, card__current=models.F("pk")).first()
    if current is not None and current.sections == sections:
        raise InvalidInput({"sections": ["Nothing changed: the card already reads like this."]})
    return _card_revise_allowed(
        actor=actor, version=version, sections=sections, sections_html=_rendered(sections), summary=summary
    )


def _rendered(sections: dict[str, str]) -> dict[str, str]:
    # Rendered before any transaction opens: a long card takes a while, and a transaction that has written
    # an audit event holds the head of the chain, which every other audited write waits for.
    return {key: markdown_to_safe_html(text) for key, text in sections.items()}


def _card_revise_allowed(
    *,
    actor,
    version: ModelVersion,
    sections: dict[str, str],
    sections_html: dict[str, str],
    summary: str,
    first: bool = False,
) -> CardRevision:
    # `first`: the version was registered in the caller's transaction, so there is no card to lock or count.
    with transaction.atomic(savepoint=not first):
        if first:
            card, number = ModelCard.objects.create(version=version), 1
        else:
            card, _ = ModelCard.objects.select_for_update().get_or_create(version=version)
            number = (card.revisions.aggregate(last=Max("number"))["last"] or 0) + 1
        revision = CardRevision.objects.create(
            card=card,
            number=number,
            sections=sections,
            sections_html=sections_html,
            summary=summary[:300],
            author=actor,
            created_at=clock.now(),
        )
        card.current = revision
        card.save(update_fields=["current"])
        audit_record(
            actor=actor,
            action="card.revised",
            target=version,
            target_label=version.identifier,
            model_name=version.model.name,
            data={"revision": number, "summary": summary[:300], "sections": sorted(sections)},
        )
    return revision


@dataclass(frozen=True)
class NewModel:
    """A model to create with its first version."""

    name: str
    description: str = ""
    team: Group | None = None


def candidate_register(
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
    sections_html = _rendered(card_sections)
    with transaction.atomic():
        if isinstance(model, NewModel):
            model = model_create(actor=actor, name=model.name, description=model.description, team=model.team)
        version = version_register(actor=actor, model=model, evidence=evidence)
        if card_sections:
            _card_revise_allowed(
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


def candidate_register_named(*, actor, model_name: str, registration: Registration) -> ModelVersion:
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
            return candidate_register(
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
    return candidate_register(
        actor=actor, model=model, evidence=registration.evidence, card_sections=registration.card_sections
    )


def card_prefill(*, actor, version: ModelVersion) -> CardRevision:
    """Start a draft's card from the newest earlier version's card, as a new revision.

    Only for Draft versions: a card people have reviewed for a move up is not overwritten wholesale.
    """
    from warehouse.cards.selectors import previous_card_version

    model_access(actor, version.model).require(
        "registry.edit_card", attempted=f"edit the card of {version.identifier}"
    )
    source = previous_card_version(version=version)
    refusal = None
    if version.stage != Stage.DRAFT:
        refusal = Conflict(
            f"{version.identifier} is in {Stage(version.stage).label}: only a Draft's card is prefilled.",
            code="not_draft",
        )
    elif source is None:
        refusal = Conflict(
            f"No earlier version of {version.model.name} has a card to start from.", code="no_source"
        )
    if refusal is not None:
        audit_record(
            actor=actor,
            action="card.prefill_refused",
            target=version,
            target_label=version.identifier,
            model_name=version.model.name,
            data={"code": refusal.code, "message": refusal.message},
        )
        raise refusal
    sections = dict(source.card.current.sections)
    return _card_revise_allowed(
        actor=actor,
        version=version,
        sections=sections,
        sections_html=_rendered(sections),
        summary=f"Prefilled from v{source.number}'s card",
    )
