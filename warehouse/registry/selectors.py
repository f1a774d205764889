"""Reads shaped for pages and the API. Each runs a fixed number of queries, whatever the number of rows."""

from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from warehouse.accounts.permissions import ModelAccess, model_access
from warehouse.accounts.visibility import models_visible_for_read, reader_for
from warehouse.audit.models import AuditEvent
from warehouse.registry.comparison import change_verdict
from warehouse.registry.evidence import KNOWN_DIRECTIONS
from warehouse.registry.models import (
    EvaluationMetric,
    ModelVersion,
    RegisteredModel,
    SliceMetric,
    Stage,
    StageTransition,
)
from warehouse.registry.search import model_search

# --- Access ---------------------------------------------------------------------------------------------


def model_get_with_access(*, user, name: str) -> tuple[RegisteredModel, ModelAccess]:
    """The model named `name` and what `user` may do on it, if they may see it; otherwise 404, exactly as
    if it did not exist. Pages that also ask what the user may do reuse the access, read once."""
    model = RegisteredModel.objects.select_related("owner", "team").filter(name=name).first()
    access = model_access(user, model) if model is not None else None
    if access is None or not access.can_view:
        raise Http404("No such model, or you may not see it.")
    return model, access


def model_get_for_user(*, user, name: str) -> RegisteredModel:
    """The model named `name` if `user` may see it; otherwise 404, exactly as if it did not exist."""
    return model_get_with_access(user=user, name=name)[0]


def version_get_with_access(*, user, name: str, number: int) -> tuple[ModelVersion, ModelAccess]:
    """Version `number` of the model named `name`, with its evidence's one-to-one parts, and what `user` may
    do on the model; 404 if they may not see it."""
    model, access = model_get_with_access(user=user, name=name)
    version = get_object_or_404(
        ModelVersion.objects.select_related(
            "registered_by", "source_run", "evaluation", "profile", "rollback_target"
        ),
        model=model,
        number=number,
    )
    version.model = model
    if version.rollback_target is not None:
        version.rollback_target.model = model
    return version, access


def version_get_for_user(*, user, name: str, number: int) -> ModelVersion:
    return version_get_with_access(user=user, name=name, number=number)[0]


# --- Lists ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFilters:
    search: str = ""
    stage: str = ""
    team: str = ""
    owner: str = ""


def models_versions_counted(models: list[RegisteredModel]) -> list[RegisteredModel]:
    """Sets on each of `models` what a list shows of its versions: `production_number`, `version_count`,
    `draft_count`, `staging_count`, `archived_count` and `last_registered_at`. One query, grouped by model
    over the versions of these models only (their index on the model), so a page of 50 costs the same at
    500 models or 50,000."""
    by_stage = {
        f"{stage}_count": Count("pk", filter=Q(stage=stage))
        for stage in (Stage.DRAFT, Stage.STAGING, Stage.ARCHIVED)
    }
    counted = (
        ModelVersion.objects.filter(model_id__in=[model.pk for model in models])
        .order_by()
        .values("model_id")
        .annotate(
            version_count=Count("pk"),
            **by_stage,
            # At most one version is in production (a unique index).
            production_number=Max("number", filter=Q(stage=Stage.PRODUCTION)),
            last_registered_at=Max("created_at"),
        )
    )
    found = {row.pop("model_id"): row for row in counted} if models else {}
    nothing = dict.fromkeys(["version_count", *by_stage], 0) | {
        "production_number": None,
        "last_registered_at": None,
    }
    for model in models:
        for name, value in found.get(model.pk, nothing).items():
            setattr(model, name, value)
    return models


def models_matching(*, user, filters: ModelFilters, rows: int) -> QuerySet[RegisteredModel]:
    """The models `user` can see that match `filters`, unshaped: what a list counts and pages through, in
    reads that stop after `rows` rows (accounts/visibility.py)."""
    reader = reader_for(user)
    models = models_visible_for_read(reader, RegisteredModel.objects.all(), rows=rows)
    if filters.search:
        models = models.filter(model_search(filters.search))
    if filters.stage in Stage.values:
        # A subquery rather than a join: a join on versions would multiply the rows being counted.
        models = models.filter(Exists(ModelVersion.objects.filter(model=OuterRef("pk"), stage=filters.stage)))
    if filters.team:
        models = models.filter(team__name=filters.team)
    if filters.owner:
        models = models.filter(owner__username=filters.owner)
    return models


def production_overview_for_user(*, user, rows: int) -> QuerySet[ModelVersion]:
    """What is in production now, across the models `user` can see, with each rollback target, for a read
    of its first `rows` rows."""
    in_production = ModelVersion.objects.filter(stage=Stage.PRODUCTION)
    return (
        models_visible_for_read(reader_for(user), in_production, rows=rows, model_key="model_id")
        .select_related("model", "model__team", "model__owner", "rollback_target", "rollback_target__model")
        .order_by("model__name")
    )


# The home page counts up to this many of each and then says "100+": each version counted is checked
# against the reader's grants, so an exact count of a large registry would cost more on each visit the
# larger it grew (60 ms at 10,000 models with a cap of 1,000), for a number the models list gives exactly.
COUNT_CAP = 100


class CappedCount(int):
    """A count that stopped at COUNT_CAP: shown as "100+" when there are more."""

    capped: bool

    def __new__(cls, value: int):
        count = super().__new__(cls, min(value, COUNT_CAP))
        count.capped = value > COUNT_CAP
        return count

    def __str__(self) -> str:
        return f"{int(self):,}+" if self.capped else f"{int(self):,}"


def version_counts_for_user(*, user) -> dict[str, CappedCount]:
    """How many models `user` can see and how many of their versions are in each stage, each counted up to
    COUNT_CAP: one query, whose cost stops growing with the registry once it holds that many."""
    rows = COUNT_CAP + 1
    reader = reader_for(user)
    models = models_visible_for_read(reader, RegisteredModel.objects.all(), rows=rows)
    counted = {"models": models.order_by().values("pk")}
    for stage in Stage.values:
        versions = ModelVersion.objects.filter(stage=stage)
        visible = models_visible_for_read(reader, versions, rows=rows, model_key="model_id")
        counted[stage] = visible.order_by().values("pk")
    parts, params = [], []
    for name, queryset in counted.items():
        try:
            sql, part_params = queryset[: COUNT_CAP + 1].query.sql_with_params()
        except EmptyResultSet:  # a person who may see nothing
            parts.append("0")
            continue
        parts.append(f'(SELECT COUNT(*) FROM ({sql}) AS "{name}")')
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {name: CappedCount(value) for name, value in zip(counted, row, strict=True)}


# --- One model ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageColumn:
    stage: str
    label: str
    versions: list[ModelVersion]
    shown: list[ModelVersion]

    @property
    def hidden_count(self) -> int:
        return len(self.versions) - len(self.shown)


@dataclass(frozen=True)
class ModelPage:
    model: RegisteredModel
    versions: list[ModelVersion]
    by_stage: dict[str, list[ModelVersion]]
    production: ModelVersion | None
    transitions: list[StageTransition]
    transitions_limit: int = 50

    @property
    def rollback_target(self) -> ModelVersion | None:
        return self.production.rollback_target if self.production is not None else None

    def columns(self, per_column: int = 12) -> list[StageColumn]:
        """The stage flow, Draft → Staging → Production → Archived, newest versions first in each. A long
        column is cut short, but never so that the rollback target drops out of sight."""
        columns = []
        target = self.rollback_target
        for stage, label in Stage.choices:
            versions = self.by_stage[stage]
            shown = versions[:per_column]
            if target is not None and target in versions and target not in shown:
                shown = sorted([*shown[: per_column - 1], target], key=lambda v: -v.number)
            columns.append(StageColumn(stage, label, versions, shown))
        return columns

    @property
    def transitions_truncated(self) -> bool:
        return len(self.transitions) >= self.transitions_limit


def model_page(*, model: RegisteredModel, transitions_limit: int = 50) -> ModelPage:
    """A model's versions grouped by stage and its latest stage transitions: two queries."""
    versions = list(model.versions.select_related("registered_by", "rollback_target").order_by("-number"))
    for version in versions:
        version.model = model
        if version.rollback_target is not None:
            version.rollback_target.model = model
    by_stage = {stage: [v for v in versions if v.stage == stage] for stage in Stage.values}
    production = by_stage[Stage.PRODUCTION][0] if by_stage[Stage.PRODUCTION] else None
    transitions = list(
        StageTransition.objects.filter(model=model)
        # `promotion_request` is the promotions app's link back to the move a request made: joined here
        # so the timeline links each move to its request without a query per line.
        .select_related("version", "actor", "promotion_request")
        .order_by("-created_at", "-pk")[:transitions_limit]
    )
    for transition in transitions:
        transition.version.model = model
    return ModelPage(
        model=model,
        versions=versions,
        by_stage=by_stage,
        production=production,
        transitions=transitions,
        transitions_limit=transitions_limit,
    )


# --- One version ----------------------------------------------------------------------------------------


def _verdict(value: float, baseline: float | None, direction: str) -> bool | None:
    """True if `value` is better than `baseline`, False if worse, None if equal, unknown or incomparable."""
    change = value - baseline if baseline is not None else None
    return {"better": True, "worse": False}.get(change_verdict(change, direction))


@dataclass(frozen=True)
class MetricRow:
    name: str
    value: float
    direction: str
    baseline: float | None

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.value - self.baseline

    @property
    def is_better(self) -> bool | None:
        return _verdict(self.value, self.baseline, self.direction)

    @property
    def is_worse(self) -> bool:
        return self.is_better is False


@dataclass(frozen=True)
class SliceRow:
    slice_key: str
    metric: str
    value: float
    sample_count: int
    baseline: float | None
    # From the overall metric of the same name, or the known direction of a well-known metric; "" if unknown.
    direction: str = ""
    baseline_sample_count: int | None = None

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.value - self.baseline

    @property
    def is_better(self) -> bool | None:
        return _verdict(self.value, self.baseline, self.direction)

    @property
    def is_regression(self) -> bool:
        return self.is_better is False


@dataclass(frozen=True)
class MissingSliceRow:
    """A slice result production reports and this version does not: not measured, so neither worse nor
    better."""

    slice_key: str
    metric: str
    baseline: float
    baseline_sample_count: int


@dataclass(frozen=True)
class VersionPage:
    version: ModelVersion
    baseline: ModelVersion | None
    artifacts: list
    metrics: list[MetricRow]
    slices: list[SliceRow]
    transitions: list[StageTransition]
    audit_events: list[AuditEvent]
    baseline_profile: object | None = None
    audit_limit: int = 50
    slice_metrics: list[str] = field(default_factory=list)
    # Slice results of production that this version does not report, by metric and slice.
    missing_slices: list[MissingSliceRow] = field(default_factory=list)

    @property
    def new_slice_count(self) -> int:
        """Slice results this version reports and production does not (none without a production)."""
        if self.baseline is None:
            return 0
        return sum(1 for row in self.slices if row.baseline is None)

    @property
    def regressions(self) -> list[SliceRow]:
        return [row for row in self.slices if row.is_regression]

    @property
    def compared_slice_count(self) -> int:
        return sum(1 for row in self.slices if row.baseline is not None)

    @property
    def metrics_better(self) -> list[MetricRow]:
        return [row for row in self.metrics if row.is_better is True]

    @property
    def metrics_worse(self) -> list[MetricRow]:
        return [row for row in self.metrics if row.is_better is False]


def _slice_direction(metric: str, overall: dict[str, str]) -> str:
    if metric in overall:
        return overall[metric]
    known = KNOWN_DIRECTIONS.get(metric.lower())
    return str(known) if known else ""


def _baseline_of(version: ModelVersion) -> ModelVersion | None:
    """The model's production version with its evaluation and profile, unless it is `version` itself."""
    baseline = (
        ModelVersion.objects.filter(model=version.model, stage=Stage.PRODUCTION)
        .exclude(pk=version.pk)
        .select_related("evaluation", "profile")
        .first()
    )
    if baseline is not None:
        baseline.model = version.model
    return baseline


def _report_id(version: ModelVersion | None) -> int | None:
    return version.evaluation.pk if version is not None and hasattr(version, "evaluation") else None


def _slice_rows(slice_rows: list[SliceMetric], own_report: int | None, directions: dict[str, str]):
    baseline_slices = {(s.slice_key, s.metric): s for s in slice_rows if s.report_id != own_report}
    rows = []
    for s in slice_rows:
        if s.report_id != own_report:
            continue
        base = baseline_slices.get((s.slice_key, s.metric))
        rows.append(
            SliceRow(
                s.slice_key,
                s.metric,
                s.value,
                s.sample_count,
                base.value if base is not None else None,
                direction=_slice_direction(s.metric, directions),
                baseline_sample_count=base.sample_count if base is not None else None,
            )
        )
    own = {(s.slice_key, s.metric) for s in slice_rows if s.report_id == own_report}
    missing = [
        MissingSliceRow(key, metric, base.value, base.sample_count)
        for (key, metric), base in baseline_slices.items()
        if (key, metric) not in own
    ]
    return (
        sorted(rows, key=lambda s: (s.metric, s.slice_key)),
        sorted(missing, key=lambda s: (s.metric, s.slice_key)),
    )


def _compared_rows(version: ModelVersion, baseline: ModelVersion | None):
    """The version's overall metrics and slices, each beside the baseline's value of the same name: two
    queries for both reports, or none when the version has no report."""
    own_report = _report_id(version)
    report_ids = [pk for pk in (own_report, _report_id(baseline)) if pk is not None]
    if not report_ids:
        return [], [], []
    metric_rows = list(EvaluationMetric.objects.filter(report_id__in=report_ids))
    slice_rows = list(SliceMetric.objects.filter(report_id__in=report_ids))
    baseline_metrics = {m.name: m.value for m in metric_rows if m.report_id != own_report}
    metrics = sorted(
        (
            MetricRow(m.name, m.value, m.direction, baseline_metrics.get(m.name))
            for m in metric_rows
            if m.report_id == own_report
        ),
        key=lambda m: m.name,
    )
    directions = {m.name: m.direction for m in metrics}
    return metrics, *_slice_rows(slice_rows, own_report, directions)


def version_page(*, version: ModelVersion, audit_limit: int = 50) -> VersionPage:
    """The version with its evidence, compared with the model's production version when that is another.

    A fixed number of queries (six), whatever the number of artifacts, metrics, slices or events.
    """
    baseline = _baseline_of(version)
    metrics, slices, missing_slices = _compared_rows(version, baseline)
    transitions = list(
        version.transitions.select_related("actor", "promotion_request").order_by("-created_at", "-pk")
    )
    audit_events = list(
        AuditEvent.objects.filter(
            target_type=ModelVersion._meta.label_lower, target_id=str(version.pk)
        ).order_by("-sequence")[:audit_limit]
    )
    return VersionPage(
        version=version,
        baseline=baseline,
        artifacts=list(version.artifacts.all()),
        metrics=metrics,
        slices=slices,
        transitions=transitions,
        audit_events=audit_events,
        baseline_profile=getattr(baseline, "profile", None) if baseline is not None else None,
        audit_limit=audit_limit,
        slice_metrics=sorted({s.metric for s in slices}),
        missing_slices=missing_slices,
    )
