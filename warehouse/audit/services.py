"""audit_record(): the one way an event enters the trail. Services call it inside their own transaction."""

import contextlib
import contextvars
import json
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from warehouse import clock
from warehouse.audit.chain import event_content, event_hash
from warehouse.audit.models import GENESIS_HASH, AuditEvent

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every writer of the chain.
AUDIT_CHAIN_LOCK_KEY = 0x57A4E401

_via: contextvars.ContextVar[str] = contextvars.ContextVar("audit_via", default="")

# Called, without arguments, after a transaction that recorded events commits: the trail is an outbox
# that other apps (webhooks) read from. Registered once, at start-up, by the apps that read it.
_listeners: list[Callable[[], None]] = []


def audit_listener_add(listener: Callable[[], None]) -> None:
    """Call `listener()` after each commit of a transaction that recorded at least one event."""
    if listener not in _listeners:
        _listeners.append(listener)


def _listeners_notify() -> None:
    for listener in list(_listeners):
        try:
            listener()
        except Exception:  # noqa: BLE001 - the events are committed; a listener must not undo the caller
            logger.exception("Audit listener %r failed after commit.", listener)


def _listeners_scheduled() -> bool:
    # One notification per transaction, however many events it records. Django keeps the pending
    # callbacks as (savepoint ids, function, robust); one dropped with a rolled-back savepoint is gone
    # from the list, so an event recorded after that schedules it again.
    pending = getattr(transaction.get_connection(), "run_on_commit", ())
    return any(entry[1] is _listeners_notify for entry in pending)


@contextlib.contextmanager
def acting_via(channel: str) -> Iterator[None]:
    """Label every event recorded inside the block with the channel it came through (web, api-token:…)."""
    token = _via.set(channel)
    try:
        yield
    finally:
        _via.reset(token)


def _lock_chain() -> None:
    # Writers take turns at the head of the chain until their transaction ends, so the chain stays linear.
    # SQLite needs nothing: its IMMEDIATE transactions already hold the one write lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK_KEY])


def _as_stored(value: Any) -> Any:
    # PostgreSQL keeps JSON numbers as `numeric` and writes them back without an exponent and without a
    # sign on zero: 1e+16 comes back as 10000000000000000 (an int to Python) and -0.0 as 0.0. Hash what
    # comes back, or a large metric value would read as tampering on PostgreSQL and not on SQLite.
    if isinstance(value, float):
        if value == 0:
            return 0.0
        text = repr(value)
        return int(Decimal(text)) if "e+" in text else value
    if isinstance(value, dict):
        return {key: _as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_stored(item) for item in value]
    return value


def _json_ready(data: dict[str, Any] | None) -> dict[str, Any]:
    # Hash exactly what the database will give back: plain JSON types, no Decimals or datetimes, and
    # numbers as PostgreSQL returns them. NaN and infinities have no JSON spelling: refused here, early.
    return _as_stored(json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder, allow_nan=False)))


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    model_name: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. `actor` is a user, an anonymous visitor, or None for the system (worker, sweeper,
    migration)."""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    if actor_id is not None:
        actor_label = actor.get_username()
    else:  # nobody signed in (a failed sign-in), or the system itself
        actor_label = "anonymous" if actor is not None else "system"
    target_type = target._meta.label_lower if target is not None else ""
    target_id = str(target.pk) if target is not None else ""
    if target is not None and not target_label:
        target_label = str(target)
    payload = _json_ready(data)
    # No savepoint: an event belongs to its caller's transaction, and if writing it fails, so does the
    # caller's change. On its own (a refusal) this is a transaction of its own.
    with transaction.atomic(savepoint=False):
        _lock_chain()
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
        sequence, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        created_at = clock.now()
        content = event_content(
            sequence=sequence,
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            via=_via.get(),
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_label=target_label[:300],
            model_name=model_name,
            data=payload,
        )
        event = AuditEvent.objects.create(
            sequence=sequence,
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            via=content["via"],
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_label=content["target_label"],
            model_name=model_name,
            data=payload,
            prev_hash=prev_hash,
            hash=event_hash(prev_hash, content),
        )
        if _listeners and not _listeners_scheduled():
            transaction.on_commit(_listeners_notify, robust=True)
        return event
