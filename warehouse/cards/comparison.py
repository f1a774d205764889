"""Two versions of a model, base → head: their cards section by section, word by word, and their evidence
(overall metrics, slice metrics, latency and cost) side by side with the change from base to head.

The base is the older version, on the left; the head the newer, on the right. Read in a fixed number of
queries (the model's versions, the two versions with their evaluation and profile, their cards, their
metrics, their slices), whatever the number of sections, metrics, slices or versions.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F
from django.http import Http404

from warehouse.cards.models import CardRevision
from warehouse.cards.selectors import SectionDiff, sections_diff
from warehouse.registry.comparison import change_verdict, metric_direction
from warehouse.registry.evidence import KNOWN_DIRECTIONS
from warehouse.registry.models import (
    EvaluationMetric,
    MetricDirection,
    ModelVersion,
    RegisteredModel,
    SliceMetric,
    Stage,
)

HIGHER, LOWER = MetricDirection.HIGHER_IS_BETTER.value, MetricDirection.LOWER_IS_BETTER.value
PROFILE_FIGURES = (
    ("Latency p50", "latency_p50_ms", "ms", LOWER),
    ("Latency p95", "latency_p95_ms", "ms", LOWER),
    ("Latency p99", "latency_p99_ms", "ms", LOWER),
    ("Throughput", "throughput_rps", "req/s", HIGHER),
)
COST = "Cost per 1,000 predictions"


@dataclass(frozen=True)
class Figure:
    """One number of both versions: an overall metric, a slice metric, or a latency or cost figure."""

    name: str
    base: float | None
    head: float | None
    direction: str  # "higher", "lower", or "" when nobody said which way is better
    metric: str = ""  # for a slice: its metric (`name` is the slice key)
    unit: str = ""
    base_samples: int | None = None
    head_samples: int | None = None

    @property
    def delta(self) -> float | None:
        """Head minus base; None when either is missing."""
        if self.base is None or self.head is None:
            return None
        return self.head - self.base

    @property
    def is_better(self) -> bool | None:
        """True if the head is better than the base, False if worse, None if equal, missing or unknown."""
        return {"better": True, "worse": False}.get(change_verdict(self.delta, self.direction))

    @property
    def is_worse(self) -> bool:
        return self.is_better is False

    @property
    def presence(self) -> str:
        """ "both", "new" (only the head has it) or "dropped" (only the base has it)."""
        if self.base is None:
            return "new"
        return "dropped" if self.head is None else "both"


@dataclass(frozen=True)
class Side:
    version: ModelVersion
    revision: CardRevision | None
    role: str  # "base" or "head"

    @property
    def label(self) -> str:
        return f"v{self.version.number} · {self.role}"


@dataclass(frozen=True)
class Comparison:
    model: RegisteredModel
    versions: list[ModelVersion]  # every version of the model, newest first: the pickers' choices
    base: Side | None  # None when the head is the first version: nothing came before it
    head: Side
    sections: list[SectionDiff]
    metrics: list[Figure]
    slices: list[Figure]
    profile: list[Figure]
    profile_note: str = ""

    @property
    def changed_sections(self) -> list[SectionDiff]:
        return [section for section in self.sections if section.changed]

    @property
    def slices_worse(self) -> list[Figure]:
        return [row for row in self.slices if row.is_worse]

    @property
    def slices_better(self) -> list[Figure]:
        return [row for row in self.slices if row.is_better is True]


def comparison_pair(
    *, model: RegisteredModel, base: int | None, head: int | None
) -> tuple[list[ModelVersion], int | None, int]:
    """The model's versions (newest first) and the numbers to compare. Without a head: the production version,
    or the newest. Without a base: the newest version before the head (None if the head is the first).
    A number the model has no version of is a 404."""
    versions = list(ModelVersion.objects.filter(model=model).only("number", "stage").order_by("-number"))
    for version in versions:
        version.model = model
    numbers = {version.number for version in versions}
    if (
        not versions
        or (head is not None and head not in numbers)
        or (base is not None and base not in numbers)
    ):
        raise Http404("No such version.")
    if head is None:
        production = next((v for v in versions if v.stage == Stage.PRODUCTION), None)
        head = (production or versions[0]).number
    if base is None:
        base = next((v.number for v in versions if v.number < head), None)
    return versions, base, head


def _metric_figures(base: list[EvaluationMetric], head: list[EvaluationMetric]) -> list[Figure]:
    theirs, ours = {m.name: m for m in base}, {m.name: m for m in head}
    return [
        Figure(
            name=name,
            base=theirs[name].value if name in theirs else None,
            head=ours[name].value if name in ours else None,
            direction=metric_direction(name, ours.get(name), theirs.get(name)),
        )
        for name in sorted(theirs.keys() | ours.keys())
    ]


def _slice_figures(
    base: list[SliceMetric], head: list[SliceMetric], directions: dict[str, str]
) -> list[Figure]:
    theirs = {(s.metric, s.slice_key): s for s in base}
    ours = {(s.metric, s.slice_key): s for s in head}
    rows = []
    for metric, slice_key in sorted(theirs.keys() | ours.keys()):
        old, new = theirs.get((metric, slice_key)), ours.get((metric, slice_key))
        known = KNOWN_DIRECTIONS.get(metric.lower())
        rows.append(
            Figure(
                name=slice_key,
                metric=metric,
                base=old.value if old is not None else None,
                head=new.value if new is not None else None,
                direction=directions.get(metric) or (str(known) if known else ""),
                base_samples=old.sample_count if old is not None else None,
                head_samples=new.sample_count if new is not None else None,
            )
        )
    return rows


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float | Decimal) else None


def _profile_figures(base: ModelVersion | None, head: ModelVersion) -> tuple[list[Figure], str]:
    old, new = getattr(base, "profile", None), getattr(head, "profile", None)
    if old is None and new is None:
        return [], ""
    figures = [
        Figure(label, _number(getattr(old, field, None)), _number(getattr(new, field, None)), way, unit=unit)
        for label, field, unit, way in PROFILE_FIGURES
    ]
    note = ""
    currencies = {profile.currency for profile in (old, new) if profile is not None}
    old_cost = _number(getattr(old, "cost_per_1k_predictions", None))
    new_cost = _number(getattr(new, "cost_per_1k_predictions", None))
    if len(currencies) > 1:
        # A change of currency is not a change of cost: both are shown, neither is called better.
        note = "The costs are in different currencies, so they are not compared."
        figures.append(Figure(COST, old_cost, new_cost, "", unit=" / ".join(sorted(currencies))))
    else:
        figures.append(Figure(COST, old_cost, new_cost, LOWER, unit="".join(currencies)))
    hardware = {profile.hardware for profile in (old, new) if profile is not None}
    if old is not None and new is not None and len(hardware) > 1:
        note = " ".join(
            filter(None, [note, "The two were measured on different hardware: compare with care."])
        )
    return figures, note


def _pair_read(model: RegisteredModel, numbers: list[int]) -> tuple[dict, dict]:
    """The versions numbered `numbers` with evaluation and profile, and their current card revisions by
    version id: two queries."""
    fetched = {
        v.number: v
        for v in ModelVersion.objects.filter(model=model, number__in=numbers).select_related(
            "evaluation", "profile"
        )
    }
    for version in fetched.values():
        version.model = model
    revisions = {
        revision.card.version_id: revision
        for revision in CardRevision.objects.filter(
            card__version__in=fetched.values(), card__current=F("pk")
        ).select_related("card", "author")
    }
    return fetched, revisions


def _evidence_read(versions: list[ModelVersion]) -> tuple[dict, dict]:
    """Each version's overall metrics and slice metrics, by version number: two queries for both."""
    reports = {v.evaluation.pk: v.number for v in versions if getattr(v, "evaluation", None) is not None}
    metrics: dict[int, list] = {v.number: [] for v in versions}
    slices: dict[int, list] = {v.number: [] for v in versions}
    if reports:
        for metric in EvaluationMetric.objects.filter(report_id__in=reports):
            metrics[reports[metric.report_id]].append(metric)
        for row in SliceMetric.objects.filter(report_id__in=reports):
            slices[reports[row.report_id]].append(row)
    return metrics, slices


def version_comparison(*, model: RegisteredModel, base: int | None, head: int | None) -> Comparison:
    versions, base_number, head_number = comparison_pair(model=model, base=base, head=head)
    fetched, revisions = _pair_read(model, [n for n in (base_number, head_number) if n is not None])
    head_version = fetched[head_number]
    base_version = fetched.get(base_number) if base_number is not None else None
    metrics, slices = _evidence_read(list(fetched.values()))
    metric_figures = _metric_figures(metrics.get(base_number, []), metrics[head_number])
    directions = {figure.name: figure.direction for figure in metric_figures}
    profile, note = _profile_figures(base_version, head_version)
    head_revision = revisions.get(head_version.pk)
    base_revision = revisions.get(base_version.pk) if base_version is not None else None
    return Comparison(
        model=model,
        versions=versions,
        base=Side(base_version, base_revision, "base") if base_version is not None else None,
        head=Side(head_version, head_revision, "head"),
        sections=sections_diff(
            base_revision.sections if base_revision else {}, head_revision.sections if head_revision else {}
        ),
        metrics=metric_figures,
        slices=_slice_figures(slices.get(base_number, []), slices[head_number], directions),
        profile=profile,
        profile_note=note,
    )
