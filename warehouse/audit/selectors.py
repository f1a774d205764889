import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from warehouse.audit.models import AuditEvent

# A model box matching at most this many of the models a reader sees is answered name by name.
NAMES_LISTED_AT_MOST = 200


@dataclass(frozen=True)
class AuditFilters:
    model_name: str = ""
    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_event_list(
    *,
    visible_model_names: Iterable[str] | QuerySet | None,
    filters: AuditFilters,
    reader_id: int | None = None,
) -> QuerySet[AuditEvent]:
    """Events newest first. `visible_model_names` None means the reader may see the whole trail;
    otherwise only events about those models, plus the reader's own events that concern no model (their
    API tokens, say), are shown. Given as a list (a reader of a few models), the names are answered through
    the (model_name, sequence) index; as a queryset of the models (a reader of many), by asking for each
    event, newest first, whether its model is among them: an index lookup per event read, and a page stops
    reading once it is full."""
    events = AuditEvent.objects.all()
    model_pattern = filters.model_name
    own = Q(model_name="", actor_id=reader_id)
    if isinstance(visible_model_names, QuerySet) and model_pattern:
        # The models the box matches among those seen, if few, become the list below.
        matching = visible_model_names.filter(model_names_matching(model_pattern)).order_by("name")
        names = list(matching.values_list("name", flat=True)[: NAMES_LISTED_AT_MOST + 1])
        if len(names) <= NAMES_LISTED_AT_MOST:
            visible_model_names = names
    if isinstance(visible_model_names, list | tuple) and model_pattern:
        # The model box picks among the names the reader sees, here: an exact list for the (model_name,
        # sequence) index, where PostgreSQL, guessing the list and the pattern independent, would read
        # every event of the matching models through the trigram index (73 ms at a million events, not 10).
        matches = re.compile(_regex(model_pattern), re.IGNORECASE)
        mine = own if matches.search("") else Q(pk__in=[])
        events = events.filter(Q(model_name__in=[n for n in visible_model_names if matches.search(n)]) | mine)
        model_pattern = ""
    elif isinstance(visible_model_names, QuerySet):
        # A scalar subquery, asked of each event as the page reads it: as EXISTS, PostgreSQL would rather
        # work out every model the reader sees first and hash them (40 ms at 10,000 models).
        seen = visible_model_names.filter(name=OuterRef("model_name")).values(seen=Value(True))[:1]
        events = events.alias(seen=Coalesce(Subquery(seen), Value(False))).filter(Q(seen=True) | own)
    elif visible_model_names is not None:
        events = events.filter(Q(model_name__in=visible_model_names) | own)
    for field, pattern in (
        ("model_name", model_pattern),
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
    one the whole field must match, `*` standing for any run of characters (`*.refused`, `version.*`).

    Both are case-insensitive regular expressions (`~*`), which PostgreSQL answers through the trail's
    trigram index; Django's `icontains` compares UPPER(field), which no index answers."""
    return Q(**{f"{field}__iregex": _regex(pattern)})


def model_names_matching(pattern: str) -> Q:
    """The models whose name a model box matches (`text_matches`), in a form the models' trigram index on
    UPPER(name) answers (registry 0006): each literal run of the pattern as `icontains`, the regular
    expression deciding what they found. With the expression alone the read walked every model's name in
    order, 8-14 ms at 10,000 models for a box that matches one."""
    condition = Q(name__iregex=_regex(pattern))
    for part in pattern.split("*"):
        if part:
            condition &= Q(name__icontains=part)
    return condition


def _regex(pattern: str) -> str:
    # Escaped by Python's rules, which PostgreSQL's regular expressions read the same way: a backslash
    # before a character that is not a letter or a digit makes it literal.
    if "*" not in pattern:
        return re.escape(pattern)
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, and where the next pages start: `newer` for `?after=`, `older`
    for `?before=`, None when there are none that way."""

    object_list: list[AuditEvent]
    newer: int | None
    older: int | None

    @property
    def complete(self) -> bool:
        """Whether this page holds every event of its list (then its length is the list's count)."""
        return self.newer is None and self.older is None


def audit_event_page(
    *, events: QuerySet[AuditEvent], before: int | None = None, after: int | None = None, size: int = 50
) -> EventPage:
    """A page of `events` (from audit_event_list) by sequence number, never by offset, and without counting
    the list: the newest `size`, or the `size` just older than `before`, or just newer than `after`. Each is
    one query reading `size` + 1 events through an index, at the top of a million-event trail or at its
    bottom; a page reached through `before` or `after` asks one more (are there events the other way?)."""
    if after is not None:
        rows = list(events.filter(sequence__gt=after).order_by("sequence")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        older_than = rows[-1].sequence if rows else after + 1
        more_older = events.filter(sequence__lt=older_than).exists()
        return EventPage(rows, rows[0].sequence if more_newer else None, older_than if more_older else None)
    if before is not None:
        events_before = events.filter(sequence__lt=before)
    else:
        events_before = events
    rows = list(events_before.order_by("-sequence")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer_than = rows[0].sequence if rows else (before or 1) - 1
    more_newer = before is not None and events.filter(sequence__gt=newer_than).exists()
    return EventPage(rows, newer_than if more_newer else None, rows[-1].sequence if more_older else None)


def audit_events_for(*, target_type: str, target_ids: Iterable[str], limit: int = 50) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(target_type=target_type, target_id__in=list(target_ids)).order_by(
        "-sequence"
    )[:limit]


def audit_events_in_sequence() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.order_by("sequence")
