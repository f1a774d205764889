"""Writes to model cards: revisions, and the first card filled from the evidence."""

import re
from collections.abc import Mapping
from typing import Any

from django.db import models, transaction
from django.db.models import Max

from warehouse import clock
from warehouse.accounts.permissions import model_access
from warehouse.audit.services import audit_record
from warehouse.cards.markdown import markdown_to_safe_html
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.sections import HEADING_ALIASES, Section
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.models import ModelVersion, Stage
from warehouse.text import SURROGATE_MESSAGE, is_encodable

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
            errors[f"{path}.{key}"] = [SURROGATE_MESSAGE]
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
    return card_revision_write(
        actor=actor,
        version=version,
        sections=sections,
        sections_html=sections_render(sections),
        summary=summary,
    )


def sections_render(sections: dict[str, str]) -> dict[str, str]:
    # Rendered before any transaction opens: a long card takes a while, and a transaction that has written
    # an audit event holds the head of the chain, which every other audited write waits for.
    return {key: markdown_to_safe_html(text) for key, text in sections.items()}


def card_revision_write(
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
    return card_revision_write(
        actor=actor,
        version=version,
        sections=sections,
        sections_html=sections_render(sections),
        summary=f"Prefilled from v{source.number}'s card",
    )
