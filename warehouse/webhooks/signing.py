"""Signing deliveries, and checking a signature as a receiver would.

The signature is HMAC-SHA256, keyed with the subscription's secret, over `<timestamp>.<body>`: the unix
seconds of the X-Warehouse-Timestamp header, a dot, and the exact bytes of the request body. Covering the
timestamp lets a receiver refuse an old message replayed at it. No Django here: receivers can copy this file.
"""

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def signature_compute(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """The X-Warehouse-Signature header value for `body` sent at `timestamp`."""
    message = f"{timestamp}.".encode("ascii") + _as_bytes(body)
    return SIGNATURE_PREFIX + hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def signature_verify(
    secret: str,
    timestamp: int | str,
    body: str | bytes,
    signature: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """True if `signature` is the warehouse's for this body and timestamp, and the timestamp is at most
    `tolerance` seconds away from now (a replayed old delivery fails)."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    expected = signature_compute(secret, sent_at, body)
    return hmac.compare_digest(expected.encode("ascii"), _as_bytes(signature or ""))
