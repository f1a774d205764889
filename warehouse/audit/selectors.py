import re
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
    for field, pattern in (
        ("model_name", filters.model_name),
        ("actor_label", filters.actor),
        ("action", filters.action),
    ):
        if pattern:
            events = events.filter(text_matches(field, pattern))
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lt=filters.until)
    return events.order_by("-sequence")


def text_matches(field: str, pattern: str) -> Q:
    """What a filter box means, ignoring case: without `*` the text appears anywhere in the field; with
    one the whole field must match, `*` standing for any run of characters (`*.refused`, `version.*`)."""
    if "*" not in pattern:
        return Q(**{f"{field}__icontains": pattern})
    parts = [re.escape(part) for part in pattern.split("*")]
    return Q(**{f"{field}__iregex": "^" + ".*".join(parts) + "$"})


def audit_events_for(*, target_type: str, target_ids: Iterable[str], limit: int = 50) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(target_type=target_type, target_id__in=list(target_ids)).order_by(
        "-sequence"
    )[:limit]


def audit_events_in_sequence() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("sequence")
