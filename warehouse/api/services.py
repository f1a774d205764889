"""The API's own writes: the idempotency keys that make a retried write safe (DESIGN invariant 11).

The claim and the answer are written in the transaction of the request they guard (warehouse/api/
idempotency.py opens it), so a key is committed together with what its first request did, or not at all.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from warehouse import clock
from warehouse.api.models import IdempotencyKey
from warehouse.audit.services import audit_record


@dataclass(frozen=True)
class KeyClaim:
    key: IdempotencyKey
    # "first": run the request and keep its answer; "replay": answer what the first got; "reused": refused.
    outcome: str


def _expired_before():
    return clock.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)


def idempotency_key_claim(*, caller, key: str, method: str, path: str, fingerprint: str) -> KeyClaim:
    """Take `key` for this request, or find the request that took it first. Call it inside the request's
    transaction: on PostgreSQL a concurrent first use of the same key waits here, on the unique index, until
    this transaction ends, and then finds the answer it kept (or takes the key if it kept none)."""
    # A key past its retention acts anew, whether or not the sweeper has come by.
    IdempotencyKey.objects.filter(caller=caller, key=key, created_at__lt=_expired_before()).delete()
    row, created = IdempotencyKey.objects.get_or_create(
        caller=caller,
        key=key,
        defaults={"fingerprint": fingerprint, "method": method, "path": path, "created_at": clock.now()},
    )
    if created:
        return KeyClaim(key=row, outcome="first")
    if row.fingerprint == fingerprint:
        return KeyClaim(key=row, outcome="replay")
    # Another request under a key the caller already used: a refusal, on the record like any other.
    audit_record(
        actor=caller,
        action="idempotency_key.reused",
        target_label=f"{method} {path}"[:300],
        data={"key": key, "method": method, "path": path, "first_method": row.method, "first_path": row.path},
    )
    return KeyClaim(key=row, outcome="reused")


def idempotency_key_answer_keep(
    *, key: IdempotencyKey, status: int, content: bytes, content_type: str, location: str
) -> IdempotencyKey:
    """Keep the successful answer of the key's first request, to give to its retries."""
    key.status, key.content, key.content_type, key.location = status, content, content_type, location
    key.save(update_fields=["status", "content", "content_type", "location"])
    return key


def idempotency_key_release(*, key: IdempotencyKey) -> None:
    """The first request was refused or failed: free the key, so a corrected retry with it acts."""
    key.delete()


def idempotency_keys_purge() -> int:
    """Forget keys older than IDEMPOTENCY_KEY_HOURS (the sweeper's); return how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_expired_before()).delete()
    return deleted
