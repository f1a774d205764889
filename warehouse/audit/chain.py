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
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(str(content["sequence"]).encode())
    digest.update(b"\n")
    digest.update(canonical_json(content).encode())
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


def chain_verify(events: Iterable[AuditEvent]) -> ChainReport:
    """Walk events in sequence order; name the first sequence number that is missing, altered or unlinked."""
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in events:
        if event.sequence != expected_sequence:
            return ChainReport(
                checked,
                expected_sequence,
                f"sequence {expected_sequence} is missing (the next stored event is {event.sequence})",
            )
        if event.prev_hash != prev_hash:
            return ChainReport(
                checked,
                event.sequence,
                f"sequence {event.sequence} does not link to the hash of the event before it",
            )
        if event_hash(prev_hash, stored_content(event)) != event.hash:
            return ChainReport(
                checked,
                event.sequence,
                f"sequence {event.sequence} was changed after it was written (hash mismatch)",
            )
        prev_hash = event.hash
        expected_sequence += 1
        checked += 1
    return ChainReport(checked, head_hash=prev_hash)
