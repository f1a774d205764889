"""Append many audit events fast, each sealed exactly as `audit_record` seals one.

A scale check needs a trail of a million events; `audit_record` writes one row per round trip (about 2,000 a
second), so a million would take ten minutes. This writer computes the same content and hash for each event
(the same functions, the same JSON normalisation, continuing from the head of the chain under the same
advisory lock) and sends the rows with PostgreSQL's COPY, a batch per transaction, so web writers can slip
their own events in between batches and the chain stays linear. On SQLite it falls back to `bulk_create`.

    audit_events_append(events=({"created_at": ..., "actor_id": None, ...} for _ in range(1_000_000)))

COPY is an INSERT as far as triggers go: the trail's append-only triggers (UPDATE, DELETE, TRUNCATE) let it
through, and nothing that is already in the trail can change.
"""

import gc
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.db import connection, transaction

from warehouse.audit.chain import STORED_COLUMNS, canonical_json, event_content, event_hash
from warehouse.audit.models import GENESIS_HASH, AuditEvent
from warehouse.audit.services import _json_ready, _listeners, _listeners_notify, _lock_chain

BATCH = 50_000
FIELDS = STORED_COLUMNS[1:-2]  # what a caller gives: all but the sequence and the two hashes
COLUMNS = ("sequence", *FIELDS, "prev_hash", "hash")


def _head() -> tuple[int, str]:
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return last if last else (0, GENESIS_HASH)


def _sealed(events: Iterable[dict], *, sequence: int, prev_hash: str) -> Iterator[tuple]:
    """Each event as the row `audit_record` would have written after the head (`sequence`, `prev_hash`):
    the row's values in COLUMNS order, `data` as the JSON that was hashed."""
    for event in events:
        created_at = event["created_at"]
        if not isinstance(created_at, datetime) or created_at.tzinfo is None:
            raise ValueError(f"created_at must be an aware datetime, not {created_at!r}")
        sequence += 1
        content = event_content(
            sequence=sequence,
            created_at=created_at,
            actor_id=event.get("actor_id"),
            actor_label=event["actor_label"],
            via=event.get("via", ""),
            action=event["action"],
            target_type=event.get("target_type", ""),
            target_id=str(event.get("target_id", "")),
            target_label=event.get("target_label", "")[:300],
            model_name=event.get("model_name", ""),
            data=_json_ready(event.get("data")),
        )
        digest = event_hash(prev_hash, content)
        yield (
            sequence,
            created_at,
            content["actor_id"],
            content["actor_label"],
            content["via"],
            content["action"],
            content["target_type"],
            content["target_id"],
            content["target_label"],
            content["model_name"],
            content["data"],
            prev_hash,
            digest,
        )
        prev_hash = digest


def _copy(rows: Iterable[tuple]) -> None:
    # Rows are sealed as COPY sends them: the server inserts one buffer while Python hashes the next.
    columns = ", ".join(COLUMNS)
    data_at = COLUMNS.index("data")
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
        with raw.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row[:data_at], canonical_json(row[data_at]), *row[data_at + 1 :]))


def _bulk_create(rows: Iterable[tuple]) -> None:
    AuditEvent.objects.bulk_create(
        [AuditEvent(**dict(zip(COLUMNS, row, strict=True))) for row in rows], batch_size=2000
    )


def audit_events_append(events: Iterable[dict], *, batch: int = BATCH) -> int:
    """Append `events` (dicts with the keys of FIELDS) to the trail after its current head; returns how many
    were written. Each batch is a transaction that holds the chain's lock, like one `audit_record`."""
    # The events hold no reference cycles: the cycle collector would only walk each batch, again and again.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _append(events, batch)
    finally:
        if gc_was_enabled:
            gc.enable()


def _append(events: Iterable[dict], batch: int) -> int:
    write = _copy if connection.vendor == "postgresql" else _bulk_create
    source = iter(events)
    written = 0
    while True:
        chunk = list(itertools.islice(source, batch))
        if not chunk:
            return written
        with transaction.atomic():
            _lock_chain()
            sequence, prev_hash = _head()
            write(_sealed(chunk, sequence=sequence, prev_hash=prev_hash))
            if _listeners:
                transaction.on_commit(_listeners_notify, robust=True)
        written += len(chunk)


# --- A trail shaped like a busy registry's ----------------------------------------------------------------

# (action, weight): mostly gate runs and stage changes, refusals rare, as on a real trail.
ACTION_MIX = (
    ("gate.requested", 20),
    ("gate.finished", 20),
    ("version.registered", 15),
    ("version.stage_changed", 15),
    ("promotion.requested", 8),
    ("signoff.recorded", 8),
    ("promotion.approved", 5),
    ("card.revised", 5),
    ("api_token.created", 2),
    ("model.updated", 1),
)
# One event in this many is a refusal (`*.refused` finds 1 in REFUSAL_EVERY * 2 of them).
REFUSAL_EVERY = 500
REFUSALS = ("promotion.refused", "signoff.refused", "permission.denied", "version.stage_change_refused")
# Model names as teams write them: 20 domains × 10 kinds, 200 models (fraud-scorer, churn-ranker…).
DOMAINS = (
    "fraud", "churn", "credit", "late-delivery", "demand", "pricing", "search", "spam", "toxicity", "ltv",
    "upsell", "returns", "eta", "sentiment", "intent", "anomaly", "forecast", "ads-ctr", "recsys", "kyc",
)  # fmt: skip
KINDS = (
    "scorer", "predictor", "classifier", "ranker", "detector", "estimator", "regressor", "filter", "tagger",
    "risk",
)  # fmt: skip
PEOPLE = (
    "alice", "bruno", "chen", "dana", "emeka", "fatima", "goran", "hana", "ivan", "jules", "kofi", "lena",
    "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tomas", "uma", "viktor", "wen", "xavier",
    "yara", "zoltan", "amara", "bjorn", "carmen", "dmitri",
)  # fmt: skip
# The rare ones a filter must still find fast: one model and one person with one event in RARE_EVERY.
RARE_EVERY = 10_000
RARE_MODEL = "legacy-churn-scorer"
RARE_PERSON = "external-auditor"


def _model_name(index: int) -> str:
    if index % RARE_EVERY == RARE_EVERY // 2:
        return RARE_MODEL
    number = (index * 7919) % (len(DOMAINS) * len(KINDS))
    return f"{DOMAINS[number % len(DOMAINS)]}-{KINDS[number // len(DOMAINS)]}"


def _actor_label(index: int) -> str:
    if index % RARE_EVERY == RARE_EVERY // 3:
        return RARE_PERSON
    person = (index * 104729) % (len(PEOPLE) * 10)
    return "system" if person < len(PEOPLE) else PEOPLE[person % len(PEOPLE)]


def _action(index: int, actions: list[str]) -> str:
    if index % REFUSAL_EVERY == REFUSAL_EVERY - 1:
        return REFUSALS[(index // REFUSAL_EVERY) % len(REFUSALS)]
    return actions[(index * 31) % len(actions)]


def synthetic_events(count: int, *, start: datetime, step_seconds: float = 1.0) -> Iterator[dict]:
    """`count` events from `start` on, `step_seconds` apart: 200 models, 30 people (and `system`, one event
    in ten), actions by ACTION_MIX, refusals rare (REFUSAL_EVERY), and RARE_MODEL and RARE_PERSON in one
    event of RARE_EVERY. Deterministic, so two runs build the same trail."""
    actions = [action for action, weight in ACTION_MIX for _ in range(weight)]
    for index in range(count):
        model = _model_name(index)
        version = index % 40 + 1
        yield {
            "created_at": start + timedelta(seconds=index * step_seconds),
            "actor_id": None,
            "actor_label": _actor_label(index),
            "via": "web" if index % 3 else "api-token:wh_bench",
            "action": _action(index, actions),
            "target_type": "registry.modelversion",
            "target_id": str(index % 100_000 + 1),
            "target_label": f"{model} v{version}",
            "model_name": model,
            "data": {"number": version, "index": index, "reason": "bench"},
        }
