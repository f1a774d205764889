"""The hash chain: what is hashed, and how a stored trail is checked."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from warehouse.audit.models import GENESIS_HASH, AuditEvent


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _timestamp(moment: datetime) -> str:
    # Microseconds survive both databases; the text must not depend on which one stored the value.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_content(
    *,
    sequence: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    via: str,
    action: str,
    target_type: str,
    target_id: str,
    target_label: str,
    model_name: str,
    data: dict,
) -> dict:
    return {
        "sequence": sequence,
        "created_at": _timestamp(created_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "via": via,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "target_label": target_label,
        "model_name": model_name,
        "data": data,
    }


def event_hash(prev_hash: str, content: dict) -> str:
    return sealed_hash(prev_hash, content["sequence"], canonical_json(content).encode())


def sealed_hash(prev_hash: str, sequence: int, canonical: bytes) -> str:
    """The hash of an event whose content's canonical JSON is `canonical`, sealing `prev_hash`."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(str(sequence).encode())
    digest.update(b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def stored_content(event: AuditEvent) -> dict:
    return event_content(
        sequence=event.sequence,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        via=event.via,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        target_label=event.target_label,
        model_name=event.model_name,
        data=event.data,
    )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str = ""
    head_hash: str = GENESIS_HASH  # the hash of the last event verified: an anchor to keep elsewhere

    @property
    def ok(self) -> bool:
        return self.broken_at is None


# An event as stored, in this order: what `verify_audit` reads as plain tuples rather than model instances.
STORED_COLUMNS = (
    "sequence",
    "created_at",
    "actor_id",
    "actor_label",
    "via",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "model_name",
    "data",
    "prev_hash",
    "hash",
)


def row_content(row: tuple) -> dict:
    """`event_content` of a stored row (STORED_COLUMNS order). `created_at` may already be the hashed text
    (PostgreSQL formats it while reading, which spares building a datetime per row)."""
    created_at = row[1]
    return {
        "sequence": row[0],
        "created_at": created_at if isinstance(created_at, str) else _timestamp(created_at),
        "actor_id": row[2],
        "actor_label": row[3],
        "via": row[4],
        "action": row[5],
        "target_type": row[6],
        "target_id": row[7],
        "target_label": row[8],
        "model_name": row[9],
        "data": row[10],
    }


def rows_hash(rows: Iterable[tuple]) -> int:
    """Recompute the hash of each row and return the bytes hashed: the chain's computation alone (canonical
    JSON and SHA-256), which `verify_audit` measures itself against."""
    hashed = 0
    for row in rows:
        canonical = canonical_json(row_content(row)).encode()
        sealed_hash(row[11], row[0], canonical)
        hashed += len(canonical)
    return hashed


class ChainWalk:
    """Checks stored rows (STORED_COLUMNS order) one after another, from the first event on; stops at the
    first sequence number that is missing, altered or unlinked."""

    def __init__(self) -> None:
        self.expected = 1
        self.prev_hash = GENESIS_HASH
        self.hashed_bytes = 0
        self.broken: ChainReport | None = None

    @property
    def checked(self) -> int:
        return self.expected - 1

    def check(self, rows: Iterable[tuple]) -> bool:
        """Check `rows`, the next ones in sequence order; False once the chain is broken."""
        if self.broken is not None:
            return False
        # Locals rather than attributes in the loop: this is the loop a million-event trail runs.
        expected, prev_hash, hashed = self.expected, self.prev_hash, 0
        problem = ""
        for row in rows:
            sequence = row[0]
            if sequence != expected:
                sequence, problem = (
                    expected,
                    f"sequence {expected} is missing (the next stored event is {row[0]})",
                )
            elif row[11] != prev_hash:
                problem = f"sequence {sequence} does not link to the hash of the event before it"
            else:
                canonical = canonical_json(row_content(row)).encode()
                hashed += len(canonical)
                if sealed_hash(prev_hash, sequence, canonical) != row[12]:
                    problem = f"sequence {sequence} was changed after it was written (hash mismatch)"
            if problem:
                break
            prev_hash = row[12]
            expected += 1
        self.expected, self.prev_hash = expected, prev_hash
        self.hashed_bytes += hashed
        if problem:
            self.broken = ChainReport(self.checked, sequence, problem)
            return False
        return True

    def report(self) -> ChainReport:
        return self.broken or ChainReport(self.checked, head_hash=self.prev_hash)


def stored_row(event: AuditEvent) -> tuple:
    return tuple(getattr(event, column) for column in STORED_COLUMNS)


def chain_verify(events: Iterable[AuditEvent]) -> ChainReport:
    """Walk events in sequence order; name the first sequence number that is missing, altered or unlinked."""
    walk = ChainWalk()
    walk.check(stored_row(event) for event in events)
    return walk.report()
