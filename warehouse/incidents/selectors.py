"""Reads for the incident responder: the jump page of a model's production version, and incidents.

Each runs a fixed number of queries, whatever the number of alerts, artifacts, metrics or events.
"""

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404

from warehouse.accounts.permissions import models_visible_to
from warehouse.audit.models import AuditEvent
from warehouse.cards.models import ModelCard
from warehouse.incidents.models import Incident, IncidentStatus
from warehouse.registry.comparison import SideBySide, metrics_side_by_side, profiles_side_by_side
from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageTransition,
)

ALERTS_SHOWN = 10
EVENTS_SHOWN = 10
INCIDENTS_SHOWN = 100


@dataclass(frozen=True)
class VersionSummary:
    version: ModelVersion
    known_failures_html: str  # sanitised on write (cards)
    metrics: list
    artifacts: list

    @property
    def digests_missing(self) -> int:
        return sum(1 for artifact in self.artifacts if not artifact.sha256)


@dataclass(frozen=True)
class JumpPage:
    model: RegisteredModel
    production: VersionSummary | None
    promoted_by: StageTransition | None  # the move that put it in production, with its request
    approvals: list  # sign-offs that approved that move
    target: VersionSummary | None
    target_last_in_production: StageTransition | None  # when the target last left production
    alerts: list[Incident]
    events: list[AuditEvent]
    # Production beside its rollback target, when there is one: overall metrics, then latency and cost.
    metrics_compared: list[SideBySide] = field(default_factory=list)
    profile_compared: list[SideBySide] = field(default_factory=list)

    @property
    def firing(self) -> list[Incident]:
        return [incident for incident in self.alerts if incident.is_firing]

    @property
    def mitigated(self) -> list[Incident]:
        return [incident for incident in self.alerts if incident.is_mitigated]

    @property
    def promotion_request(self):
        return getattr(self.promoted_by, "promotion_request", None) if self.promoted_by else None


def _summaries(versions: list[ModelVersion]) -> dict[int, VersionSummary]:
    """Card, metrics and artifacts of a few versions in three queries."""
    ids = [v.pk for v in versions]
    cards = {
        card.version_id: card
        for card in ModelCard.objects.filter(version_id__in=ids).select_related("current")
    }
    metrics: dict[int, list] = {pk: [] for pk in ids}
    for metric in (
        EvaluationMetric.objects.filter(report__version_id__in=ids).select_related("report").order_by("name")
    ):
        metrics[metric.report.version_id].append(metric)
    artifacts: dict[int, list] = {pk: [] for pk in ids}
    for artifact in Artifact.objects.filter(version_id__in=ids).order_by("kind", "name"):
        artifacts[artifact.version_id].append(artifact)
    summaries = {}
    for version in versions:
        card = cards.get(version.pk)
        html = (
            (card.current.sections_html or {}).get("known_failures", "") if card and card.current_id else ""
        )
        summaries[version.pk] = VersionSummary(version, html, metrics[version.pk], artifacts[version.pk])
    return summaries


def jump_page(*, model: RegisteredModel) -> JumpPage:
    """Everything a responder needs on one screen, for the version in production now."""
    production = _production_with_target(model)
    target = production.rollback_target if production is not None else None
    versions = [v for v in (production, target) if v is not None]
    summaries = _summaries(versions) if versions else {}
    promoted_by, target_left = _moves_that_matter(model, production, target)
    compared = target is not None
    return JumpPage(
        model=model,
        production=summaries.get(production.pk) if production else None,
        promoted_by=promoted_by,
        approvals=_approvals_of(promoted_by),
        target=summaries.get(target.pk) if target else None,
        target_last_in_production=target_left,
        alerts=_recent_alerts(model),
        events=list(AuditEvent.objects.filter(model_name=model.name).order_by("-sequence")[:EVENTS_SHOWN]),
        metrics_compared=(
            metrics_side_by_side(summaries[production.pk].metrics, summaries[target.pk].metrics)
            if compared
            else []
        ),
        profile_compared=(
            profiles_side_by_side(_profile_of(production), _profile_of(target)) if compared else []
        ),
    )


def _profile_of(version: ModelVersion):
    # The reverse one-to-one raises when a version has no profile; select_related has already read it.
    return getattr(version, "profile", None)


def _production_with_target(model: RegisteredModel) -> ModelVersion | None:
    related = ("registered_by", "profile", "source_run", "evaluation")
    production = (
        ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)
        .select_related(*related, *(f"rollback_target__{name}" for name in related), "rollback_target")
        .first()
    )
    if production is not None:
        production.model = model
        if production.rollback_target is not None:
            production.rollback_target.model = model
    return production


def _moves_that_matter(model, production, target) -> tuple[StageTransition | None, StageTransition | None]:
    """The move that put `production` there, and the last time `target` left production: one query."""
    if production is None:
        return None, None
    moves = list(
        StageTransition.objects.filter(model=model)
        .filter(
            Q(version=production, to_stage=Stage.PRODUCTION)
            | Q(version_id=target.pk if target else None, from_stage=Stage.PRODUCTION)
        )
        .select_related("actor", "promotion_request__gate_run", "promotion_request__overridden_by")
        .order_by("-created_at", "-pk")
    )
    promoted_by = next((m for m in moves if m.version_id == production.pk), None)
    target_left = next((m for m in moves if target is not None and m.version_id == target.pk), None)
    return promoted_by, target_left


def _approvals_of(promoted_by: StageTransition | None) -> list:
    request = getattr(promoted_by, "promotion_request", None) if promoted_by else None
    if request is None:
        return []
    return [s for s in request.signoffs.select_related("signer") if s.decision == "approve"]


def _recent_alerts(model: RegisteredModel) -> list[Incident]:
    alerts = list(
        Incident.objects.filter(model=model)
        .select_related("version", "receiver", "rolled_back_by", "rolled_back_from", "rollback__version")
        .order_by("status", "-starts_at", "-pk")[:ALERTS_SHOWN]
    )
    for incident in alerts:
        for version in (incident.version, incident.rolled_back_from):
            if version is not None:
                version.model = model
    return alerts


# --- Incidents ------------------------------------------------------------------------------------------


def incidents_visible_to(user) -> QuerySet[Incident]:
    """Incidents of models `user` may see; unmatched ones (no model) only for responders and superusers,
    who are the ones to act on an alert nobody routed."""
    visible = models_visible_to(user, RegisteredModel.objects.all())
    scope = Q(model__in=visible)
    if user.is_superuser or user.has_perm("registry.respond_incident"):
        scope |= Q(model__isnull=True)
    return Incident.objects.filter(scope)


def incident_list(*, user, status: str = "", unmatched: bool = False) -> list[Incident]:
    incidents = incidents_visible_to(user).select_related("model", "version", "receiver")
    if status in IncidentStatus.values:
        incidents = incidents.filter(status=status)
    if unmatched:
        incidents = incidents.filter(model__isnull=True)
    rows = list(incidents.order_by("status", "-starts_at", "-pk")[:INCIDENTS_SHOWN])
    for incident in rows:
        if incident.version is not None:
            incident.version.model = incident.model
    return rows


@dataclass(frozen=True)
class OpenIncidents:
    """The incidents still open (firing first, then mitigated), newest first, as many as a page shows."""

    rows: list[Incident]
    more: bool  # there are more than shown

    @property
    def firing(self) -> list[Incident]:
        return [incident for incident in self.rows if incident.is_firing]


def incidents_open(*, user, limit: int) -> OpenIncidents:
    """Firing and mitigated incidents `user` may see, for the home page: one query (plus the visibility
    check's own), however many there are."""
    rows = list(
        incidents_visible_to(user)
        .filter(status__in=(IncidentStatus.FIRING, IncidentStatus.MITIGATED))
        .select_related("model", "version", "rolled_back_by", "rolled_back_from", "rollback__version")
        .order_by("status", "-starts_at", "-pk")[: limit + 1]
    )
    for incident in rows:
        for version in (incident.version, incident.rolled_back_from):
            if version is not None:
                version.model = incident.model
    return OpenIncidents(rows=rows[:limit], more=len(rows) > limit)


def incident_get(*, user, incident_id: int) -> Incident:
    incident = (
        incidents_visible_to(user)
        .select_related(
            "model", "version", "receiver", "rollback__version", "rolled_back_by", "rolled_back_from"
        )
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise Http404("No such incident, or you may not see it.")
    if incident.version is not None:
        incident.version.model = incident.model
    return incident
