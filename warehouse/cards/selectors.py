"""Reads about model cards, shaped for the card pages: the written sections, the sections generated from
evidence, completeness, history and diffs. Each runs a fixed number of queries."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, prefetch_related_objects
from django.http import Http404
from django.utils.module_loading import import_string

from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.sections import Section
from warehouse.cards.wording import TextDiff, text_diff
from warehouse.registry.models import MetricDirection, ModelVersion
from warehouse.registry.selectors import SliceRow, VersionPage, version_page

# Required when no policy says otherwise: what a product lead and an incident responder need first.
DEFAULT_REQUIRED_SECTIONS: tuple[str, ...] = (
    Section.TASK.value,
    Section.KNOWN_FAILURES.value,
    Section.OWNERS_CONTACTS.value,
)
SECTION_LABELS = dict(Section.choices)
REVISIONS_SHOWN = 200
WEAKEST_PER_METRIC = 3


def required_sections_for(version: ModelVersion) -> tuple[tuple[str, ...], str]:
    """The sections `version`'s card must have, and where that rule comes from.

    The promotion policy decides when the promotions app is installed (`CARD_REQUIRED_SECTIONS` names its
    function: the cards app cannot import it, dependencies run one way); otherwise the default list.
    """
    provider = getattr(settings, "CARD_REQUIRED_SECTIONS", "")
    if provider:
        return import_string(provider)(version=version)
    return DEFAULT_REQUIRED_SECTIONS, "the default list"


@dataclass(frozen=True)
class Completeness:
    required: tuple[str, ...]
    filled: frozenset[str]
    source: str  # "the promotion policy r3 for Staging → Production", "the default list"

    @property
    def missing(self) -> list[tuple[str, str]]:
        return [(key, SECTION_LABELS[key]) for key in self.required if key not in self.filled]

    @property
    def empty_optional(self) -> list[tuple[str, str]]:
        return [
            (key, label)
            for key, label in Section.choices
            if key not in self.filled and key not in self.required
        ]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def written_count(self) -> int:
        return len(self.filled)

    @property
    def section_count(self) -> int:
        return len(Section.values)


def completeness_of(sections: dict[str, str], required: tuple[str, ...], source: str) -> Completeness:
    filled = frozenset(key for key, text in sections.items() if isinstance(text, str) and text.strip())
    return Completeness(required=tuple(required), filled=filled, source=source)


@dataclass(frozen=True)
class WrittenSection:
    key: str
    label: str
    markdown: str
    html: str  # sanitised on write; the only HTML a card page outputs

    @property
    def is_known_failures(self) -> bool:
        return self.key == Section.KNOWN_FAILURES


def _weakness_key(row: SliceRow):
    # Worst first: the lowest value where higher is better, the highest where lower is better.
    sign = -1 if row.direction == MetricDirection.LOWER_IS_BETTER else 1
    return (row.metric, sign * row.value, row.slice_key)


@dataclass(frozen=True)
class CardPage:
    version: ModelVersion
    card: ModelCard | None
    revision: CardRevision | None
    written: list[WrittenSection]
    evidence: VersionPage
    completeness: Completeness

    @property
    def weakest_slices(self) -> list[SliceRow]:
        """Every slice, per metric, weakest cohort first, with the comparison to production."""
        return sorted(self.evidence.slices, key=_weakness_key)

    @property
    def slice_rows(self) -> list[tuple[SliceRow, bool]]:
        """Each slice, weakest first, and whether the page highlights it: the three weakest cohorts of each
        metric, and every slice worse than production."""
        rows, seen = [], {}
        for row in self.weakest_slices:
            seen[row.metric] = seen.get(row.metric, 0) + 1
            rows.append((row, seen[row.metric] <= WEAKEST_PER_METRIC or row.is_regression))
        return rows

    @property
    def known_failures(self) -> WrittenSection | None:
        return next((s for s in self.written if s.is_known_failures), None)


def card_version_get(*, model, number: int) -> ModelVersion:
    version = (
        ModelVersion.objects.select_related(
            "registered_by", "source_run", "evaluation", "profile", "rollback_target"
        )
        .filter(model=model, number=number)
        .first()
    )
    if version is None:
        raise Http404("No such version.")
    version.model = model
    return version


def _written(revision: CardRevision | None) -> list[WrittenSection]:
    if revision is None:
        return []
    return [
        WrittenSection(key, label, revision.sections.get(key, ""), revision.sections_html.get(key, ""))
        for key, label in Section.choices
        if (revision.sections.get(key) or "").strip()
    ]


def card_page(*, version: ModelVersion) -> CardPage:
    """The product lead's page: the written card, and what the evidence says, generated."""
    card = ModelCard.objects.filter(version=version).select_related("current__author").first()
    revision = card.current if card is not None else None
    evidence = version_page(version=version, audit_limit=0)
    # Who signed each move up: the promotions app's requests and sign-offs, joined by name (the cards app
    # cannot import it), two queries for the whole history.
    prefetch_related_objects(evidence.transitions, "promotion_request__signoffs__signer")
    for transition in evidence.transitions:
        request = getattr(transition, "promotion_request", None)
        transition.approvals = (
            [s for s in request.signoffs.all() if s.decision == "approve"] if request is not None else []
        )
    required, source = required_sections_for(version)
    sections = revision.sections if revision is not None else {}
    return CardPage(
        version=version,
        card=card,
        revision=revision,
        written=_written(revision),
        evidence=evidence,
        completeness=completeness_of(sections, required, source),
    )


@dataclass(frozen=True)
class CardSummary:
    """What the version page says of the card: whether one is written, and how complete it is."""

    revision: CardRevision | None
    completeness: Completeness


def card_summary(*, version: ModelVersion) -> CardSummary:
    """The current revision (one query) and the sections the policy in force requires (the policy's reads)."""
    revision = (
        CardRevision.objects.filter(card__version=version, card__current=F("pk"))
        .only("number", "sections", "created_at")
        .first()
    )
    required, source = required_sections_for(version)
    sections = revision.sections if revision is not None else {}
    return CardSummary(revision=revision, completeness=completeness_of(sections, required, source))


# --- History and diffs ----------------------------------------------------------------------------------


def card_revisions(*, version: ModelVersion) -> list[CardRevision]:
    return list(
        CardRevision.objects.filter(card__version=version)
        .select_related("author")
        .order_by("-number")[:REVISIONS_SHOWN]
    )


def card_revision_get(*, version: ModelVersion, number: int) -> CardRevision:
    revision = (
        CardRevision.objects.filter(card__version=version, number=number).select_related("author").first()
    )
    if revision is None:
        raise Http404("No such card revision.")
    return revision


@dataclass(frozen=True)
class SectionDiff:
    key: str
    label: str
    text: TextDiff

    @property
    def changed(self) -> bool:
        return self.text.changed

    @property
    def added(self) -> int:
        return self.text.added

    @property
    def removed(self) -> int:
        return self.text.removed


def sections_diff(base: dict[str, str], head: dict[str, str]) -> list[SectionDiff]:
    """Per section in reading order, `base` → `head` word by word, leaving out sections empty in both. The
    Markdown source is compared, never HTML; the page escapes every piece."""
    diffs = []
    for key, label in Section.choices:
        old, new = base.get(key) or "", head.get(key) or ""
        if old.strip() or new.strip():
            diffs.append(SectionDiff(key, label, text_diff(old, new)))
    return diffs


def previous_card_version(*, version: ModelVersion) -> ModelVersion | None:
    """The newest earlier version of the model that has a card: where a draft's card can start from."""
    earlier = (
        ModelVersion.objects.filter(
            model_id=version.model_id, number__lt=version.number, card__current__isnull=False
        )
        .order_by("-number")
        .first()
    )
    if earlier is not None:
        earlier.model = version.model
    return earlier
