"""`Idempotency-Key` on the API's writes (DESIGN invariant 11): a pipeline or runbook that retries a POST or
PUT after a timeout gets the first answer again instead of acting twice.

Applied around each path's view (warehouse/api/urls.py), before ninja: a request with a key runs in one
transaction with the key's row, so the key is kept exactly when what the request did is committed. A request
without the header runs as if this module did not exist (no query, no transaction).
"""

import functools
import hashlib
import json
import re

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from warehouse.api.http import CALLER_REFUSALS, caller, error_response
from warehouse.api.services import (
    idempotency_key_answer_keep,
    idempotency_key_claim,
    idempotency_key_release,
)
from warehouse.audit.services import acting_via

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WRITE_METHODS = ("POST", "PUT")
KEY = re.compile(r"[ -~]{1,255}")
KEY_RULE = "1-255 printable ASCII characters (a UUID is a good key)."


def request_fingerprint(request: HttpRequest) -> str:
    """What makes two requests the same one: the method, the path and the body. A JSON body counts by its
    meaning (key order and spacing aside), anything else byte for byte."""
    body = request.body
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass  # not JSON: the view refuses it, and the raw bytes tell this body from another
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replayed(status: int, content: bytes, content_type: str, location: str) -> HttpResponse:
    response = HttpResponse(content, status=status, content_type=content_type or None)
    if location:
        response["Location"] = location
    response[REPLAYED] = "true"
    return response


def _once(view, request: HttpRequest, args, kwargs, user, key: str) -> HttpResponse:
    method, path = request.method, request.get_full_path()
    claim = idempotency_key_claim(
        caller=user, key=key, method=method, path=path, fingerprint=request_fingerprint(request)
    )
    row = claim.key
    if claim.outcome == "replay":
        return _replayed(row.status, bytes(row.content), row.content_type, row.location)
    if claim.outcome == "reused":
        return error_response(
            409,
            "idempotency_key_reused",
            f"This {HEADER} was first sent with another request ({row.method} {row.path} with another "
            "body); nothing was done. Send a new key for a new request.",
        )
    response = view(request, *args, **kwargs)
    if 200 <= response.status_code < 300:
        idempotency_key_answer_keep(
            key=row,
            status=response.status_code,
            content=response.content,
            content_type=response.get("Content-Type", ""),
            location=response.get("Location", ""),
        )
    else:
        # Refused (4xx): the key is freed, and the refusal's own audit events are committed with the rest.
        idempotency_key_release(key=row)
    return response


def idempotent(view):
    """Answer a POST or PUT that carries an `Idempotency-Key` once per caller and key."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or request.method not in WRITE_METHODS:
            return view(request, *args, **kwargs)
        try:
            # Keys are per caller. Nobody, a locked-out address, or a session without its CSRF token: the
            # view answers that (caller remembers the refusal, so it is not counted twice).
            user = caller(request)
        except CALLER_REFUSALS:
            return view(request, *args, **kwargs)
        if not KEY.fullmatch(key):
            return error_response(
                400, "invalid", f"The {HEADER} header is not a key; nothing was done.", {HEADER: [KEY_RULE]}
            )
        # An error the view does not answer (the database gone) rolls back the key with everything else.
        with transaction.atomic(), acting_via(request.api_channel):
            return _once(view, request, args, kwargs, user, key)

    return wrapper


def idempotency_documented(document: dict) -> None:
    """Add the header and its 409 to every POST and PUT of the OpenAPI document."""
    parameter = {
        "in": "header",
        "name": HEADER,
        "required": False,
        "description": (
            "Makes a retry safe: the first request with a key acts, and a retry with the same key, method, "
            "path and body gets the first answer again (status, body and Location), with the header "
            f"`{REPLAYED}: true`, and does nothing. The same key with another body, method or path is 409 "
            "`idempotency_key_reused`. Keys are per caller, kept for at least 24 hours; an answer that was "
            "not a success is not kept, so a corrected retry may use the same key."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": f"^{KEY.pattern}$"},
    }
    conflict = {
        "description": "Conflict",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for item in document["paths"].values():
        for method, operation in item.items():
            if method.upper() in WRITE_METHODS:
                operation.setdefault("parameters", []).append(parameter)
                operation["responses"].setdefault("409", conflict)
