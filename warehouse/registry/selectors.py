"""Reads shaped for pages and the API. Each runs a fixed number of queries, whatever the number of rows."""

from dataclasses import dataclass

from django.core.cache import cache
from django.http import Http404
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from warehouse.accounts.permissions import model_access, models_visible_to
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import (
    EvaluationMetric,
    ModelVersion,
    RegisteredModel,
    SliceMetric,
    Stage,
    StageTransition,
)

PRODUCTION_CACHE_SECONDS = 300


# --- Access ---------------------------------------------------------------------------------------------


def model_get_for_user(*, user, name: str) -> RegisteredModel:
    """The model named `name` if `user` may see it; otherwise 404, exactly as if it did not exist."""
    model = get_object_or_404(RegisteredModel.objects.select_related("owner", "team"), name=name)
    if not model_access(user, model).can_view:
        raise Http404("No such model, or you may not see it.")
    return model


def version_get_for_user(*, user, name: str, number: int) -> ModelVersion:
    model = model_get_for_user(user=user, name=name)
    version = get_object_or_404(
        ModelVersion.objects.select_related(
            "registered_by", "source_run", "evaluation", "profile", "rollback_target"
        ),
        model=model,
        number=number,
    )
    version.model = model
    return version


# --- Lists ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFilters:
    search: str = ""
    stage: str = ""
    team: str = ""
    owner: str = ""


def model_list_for_user(*, user, filters: ModelFilters = ModelFilters()) -> QuerySet[RegisteredModel]:
    production = ModelVersion.objects.filter(model=OuterRef("pk"), stage=Stage.PRODUCTION)
    models = (
        models_visible_to(user, RegisteredModel.objects.all())
        .select_related("owner", "team")
        .annotate(
            production_number=Subquery(production.values("number")[:1], output_field=IntegerField()),
            version_count=Count("versions", distinct=True),
            staging_count=Count("versions", filter=Q(versions__stage=Stage.STAGING), distinct=True),
            draft_count=Count("versions", filter=Q(versions__stage=Stage.DRAFT), distinct=True),
        )
        .order_by("name")
    )
    if filters.search:
        models = models.filter(Q(name__icontains=filters.search) | Q(description__icontains=filters.search))
    if filters.stage in Stage.values:
        models = models.filter(versions__stage=filters.stage).distinct()
    if filters.team:
        models = models.filter(team__name=filters.team)
    if filters.owner:
        models = models.filter(owner__username=filters.owner)
    return models


def model_filter_choices(*, user) -> dict[str, list[str]]:
    """The teams and owners of the models `user` can see, for the filter menus (two queries)."""
    visible = models_visible_to(user, RegisteredModel.objects.all())
    return {
        "teams": sorted(set(visible.exclude(team=None).values_list("team__name", flat=True))),
        "owners": sorted(set(visible.values_list("owner__username", flat=True))),
    }


def production_overview_for_user(*, user) -> QuerySet[ModelVersion]:
    """What is in production now, across the models `user` can see."""
    visible = models_visible_to(user, RegisteredModel.objects.all())
    return (
        ModelVersion.objects.filter(stage=Stage.PRODUCTION, model__in=visible)
        .select_related("model", "model__team", "rollback_target")
        .order_by("model__name")
    )


# --- One model ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPage:
    model: RegisteredModel
    versions: list[ModelVersion]
    by_stage: dict[str, list[ModelVersion]]
    production: ModelVersion | None
    transitions: list[StageTransition]


def model_page(*, model: RegisteredModel, transitions_limit: int = 50) -> ModelPage:
    versions = list(
        model.versions.select_related("registered_by", "rollback_target").order_by("-number")
    )
    for version in versions:
        version.model = model
        if version.rollback_target is not None:
            version.rollback_target.model = model
    by_stage = {stage: [v for v in versions if v.stage == stage] for stage in Stage.values}
    production = by_stage[Stage.PRODUCTION][0] if by_stage[Stage.PRODUCTION] else None
    transitions = list(
        StageTransition.objects.filter(model=model)
        .select_related("version", "actor")
        .order_by("-created_at", "-pk")[:transitions_limit]
    )
    for transition in transitions:
        transition.version.model = model
    return ModelPage(model=model, versions=versions, by_stage=by_stage, production=production, transitions=transitions)


# --- One version ----------------------------------------------------------------------------------------


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
        if self.delta is None or self.delta == 0:
            return None
        return (self.delta > 0) == (self.direction == "higher")


@dataclass(frozen=True)
class SliceRow:
    slice_key: str
    metric: str
    value: float
    sample_count: int
    baseline: float | None

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.value - self.baseline


@dataclass(frozen=True)
class VersionPage:
    version: ModelVersion
    baseline: ModelVersion | None
    artifacts: list
    metrics: list[MetricRow]
    slices: list[SliceRow]
    transitions: list[StageTransition]
    audit_events: list[AuditEvent]


def version_page(*, version: ModelVersion, audit_limit: int = 50) -> VersionPage:
    """The version with its evidence, compared with the model's production version when that is another."""
    model = version.model
    baseline = (
        ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).exclude(pk=version.pk).first()
    )
    report_ids = [v.evaluation.pk for v in (version, baseline) if v is not None and hasattr(v, "evaluation")]
    metric_rows = EvaluationMetric.objects.filter(report_id__in=report_ids).select_related("report")
    slice_rows = SliceMetric.objects.filter(report_id__in=report_ids).select_related("report")
    own_report = version.evaluation.pk if hasattr(version, "evaluation") else None

    baseline_metrics = {m.name: m.value for m in metric_rows if m.report_id != own_report}
    baseline_slices = {(s.slice_key, s.metric): s.value for s in slice_rows if s.report_id != own_report}
    metrics = [
        MetricRow(m.name, m.value, m.direction, baseline_metrics.get(m.name))
        for m in metric_rows
        if m.report_id == own_report
    ]
    slices = [
        SliceRow(s.slice_key, s.metric, s.value, s.sample_count, baseline_slices.get((s.slice_key, s.metric)))
        for s in slice_rows
        if s.report_id == own_report
    ]
    metrics.sort(key=lambda m: m.name)
    slices.sort(key=lambda s: (s.metric, s.slice_key))
    transitions = list(version.transitions.select_related("actor").order_by("-created_at", "-pk"))
    audit_events = list(
        AuditEvent.objects.filter(target_type=ModelVersion._meta.label_lower, target_id=str(version.pk))
        .order_by("-sequence")[:audit_limit]
    )
    if baseline is not None:
        baseline.model = model
    return VersionPage(
        version=version,
        baseline=baseline,
        artifacts=list(version.artifacts.all()),
        metrics=metrics,
        slices=slices,
        transitions=transitions,
        audit_events=audit_events,
    )


# --- Production lookup (the serving systems' hot path) ---------------------------------------------------


def _production_cache_key(name: str) -> str:
    return f"warehouse:production:v1:{name}"


def production_cache_forget(name: str) -> None:
    cache.delete(_production_cache_key(name))


def production_lookup(*, model: RegisteredModel) -> dict | None:
    """What is in production for `model`, with artifact URIs and digests. Cached; forgotten on commit of
    every stage change that touches production."""
    key = _production_cache_key(model.name)
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    version = (
        ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)
        .select_related("rollback_target")
        .prefetch_related(Prefetch("artifacts"))
        .first()
    )
    if version is None:
        answer: dict = {}
    else:
        version.model = model
        answer = {
            "model": model.name,
            "version": version.number,
            "id": version.identifier,
            "uuid": str(version.uuid),
            "stage": version.stage,
            "in_production_since": version.stage_changed_at.isoformat(),
            "rollback_target": (
                f"{model.name}/v{version.rollback_target.number}" if version.rollback_target_id else None
            ),
            "artifacts": [
                {"name": a.name, "kind": a.kind, "uri": a.uri, "sha256": a.sha256 or None, "size_bytes": a.size_bytes}
                for a in version.artifacts.all()
            ],
        }
    # An empty dict caches "nothing in production" too, so a model without one is not a cache miss each time.
    cache.set(key, answer, PRODUCTION_CACHE_SECONDS)
    return answer or None
