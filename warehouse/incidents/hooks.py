"""The hooks alerting systems post to: `/hooks/alertmanager/<receiver>` and `/hooks/grafana/<receiver>`.

Machine endpoints: no session and no CSRF, a bearer token per receiver instead. Thin: read at most the
allowed body (Content-Length or chunked), take JSON only, call `alerts_receive`, answer JSON.
"""

import base64
import binascii

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from warehouse.accounts.token_throttle import Knock, TokenLockedOut, lockout_seconds, receiver_door
from warehouse.incidents.models import PayloadKind
from warehouse.incidents.services import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    PayloadUnreadable,
    ReceiverUnauthorized,
    alerts_receive,
)
from warehouse.machine_http import BodyRefused, body_read, body_too_large, json_content_type_check


def _error(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}, **extra}, status=status)


def _token(request: HttpRequest) -> str | None:
    """The token from `Authorization: Bearer <token>`, or the password of `Basic` credentials (what
    Alertmanager's `basic_auth` and Grafana's basic authentication send)."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def _receive(request: HttpRequest, receiver: str, kind: PayloadKind) -> JsonResponse:
    if request.method != "POST":
        response = _error(
            405, "method_not_allowed", f"{request.method} is not allowed here; POST the alerts."
        )
        response["Allow"] = "POST"
        return response
    try:
        # Alertmanager and Grafana send JSON and say so: anything else is a misconfigured sender.
        json_content_type_check(request)
        body = body_read(request, limit=MAX_BODY_BYTES)
    except BodyRefused as refusal:
        return refusal.response()
    knock = Knock.of(request, receiver_door(receiver))
    try:
        receipt = alerts_receive(
            receiver_name=receiver, kind=kind, token=_token(request), body=body, knock=knock
        )
    except TokenLockedOut as error:
        response = _error(429, "locked_out", str(error))
        response["Retry-After"] = str(lockout_seconds())
        return response
    except ReceiverUnauthorized:
        response = _error(
            401, "unauthenticated", "Send this receiver's token as 'Authorization: Bearer <token>'."
        )
        response["WWW-Authenticate"] = 'Bearer realm="warehouse alert receiver"'
        return response
    except PayloadTooLarge:
        return body_too_large(MAX_BODY_BYTES).response()
    except PayloadUnreadable as error:
        return _error(400, error.code, error.message, stored=error.payload_id)
    return JsonResponse(
        {"stored": receipt.payload_id, "alerts": receipt.alerts, "incidents": list(receipt.incidents)}
    )


@csrf_exempt
def alertmanager(request: HttpRequest, receiver: str) -> JsonResponse:
    return _receive(request, receiver, PayloadKind.ALERTMANAGER)


@csrf_exempt
def grafana(request: HttpRequest, receiver: str) -> JsonResponse:
    return _receive(request, receiver, PayloadKind.GRAFANA)
