from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from warehouse.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditFilters:
    model_name: str = ""
    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_event_list(
    *, visible_model_names: Iterable[str] | None, filters: AuditFilters, reader_id: int | None = None
) -> QuerySet[AuditEvent]:
    """Events newest first. `visible_model_names` None means the reader may see the whole trail;
    otherwise only events about those models, plus the reader's own events that concern no model (their
    API tokens, say), are shown."""
    events = AuditEvent.objects.all()
    if visible_model_names is not None:
        events = events.filter(Q(model_name__in=visible_model_names) | Q(model_name="", actor_id=reader_id))
    if filters.model_name:
        events = events.filter(model_name=filters.model_name)
    if filters.actor:
        events = events.filter(actor_label=filters.actor)
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lt=filters.until)
    return events.order_by("-sequence")


def audit_events_for(*, target_type: str, target_ids: Iterable[str], limit: int = 50) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(target_type=target_type, target_id__in=list(target_ids)).order_by(
        "-sequence"
    )[:limit]


def audit_events_in_sequence() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("sequence")
