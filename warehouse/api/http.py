"""The API's edge: who is calling, reading the body, and the JSON error envelope.

Machines send `Authorization: Bearer <token>`; a signed-in browser may call with its session, and then
CSRF applies exactly as on the pages. Every error is `{"error": {"code", "message", "fields"?}}`.
"""

import functools
import json
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from ninja.parser import Parser

from warehouse.accounts.services import api_token_authenticate
from warehouse.accounts.token_throttle import (
    API_TOKEN_DOOR,
    Knock,
    TokenLockedOut,
    api_token_refusal_record,
    token_door_locked,
)
from warehouse.audit.services import acting_via
from warehouse.errors import InvalidInput

MAX_BODY_BYTES = 5 * 1024 * 1024
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NOT_FOUND_MESSAGE = "Not found, or you may not see it."
NO_CREDENTIALS = "Sign in, or send an API token: 'Authorization: Bearer <token>'."


def error_response(
    status: int, code: str, message: str, fields: dict | None = None, **headers
) -> JsonResponse:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse({"error": body}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def method_not_allowed(request: HttpRequest, methods: tuple[str, ...]) -> JsonResponse:
    response = error_response(
        405, "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(methods)}."
    )
    response["Allow"] = ", ".join(methods)
    return response


# --- Who is calling -------------------------------------------------------------------------------------


class Unauthenticated(Exception):
    """No credentials, or credentials that are not good: a 401 saying how to fix it."""


class CsrfRefused(Exception):
    """A session caller's unsafe request without its CSRF token: a 403, as on the pages."""


class _CsrfCheck(CsrfViewMiddleware):
    # Answer the reason instead of rendering the site's HTML failure page (as Django REST framework does).
    def _reject(self, request, reason):
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def caller(request: HttpRequest) -> AbstractBaseUser:
    """Ninja's authentication for every operation: the token's owner, or the signed-in user.

    A caller that sends a token means that token: a wrong one is refused even with a valid session. From
    an address locked out for sending wrong ones (accounts/token_throttle.py) no token is looked at.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
        knock = Knock.of(request, API_TOKEN_DOOR)
        if token_door_locked(knock):
            raise TokenLockedOut()
        token = api_token_authenticate(secret.strip())
        if token is None:
            if api_token_refusal_record(knock=knock, secret=secret.strip()):
                raise TokenLockedOut()
            raise Unauthenticated("The token is unknown, revoked or expired.")
        request.user = token.user
        request.api_channel = f"api-token:{token.prefix}"
        return token.user
    if not request.user.is_authenticated:
        raise Unauthenticated(NO_CREDENTIALS)
    # Session callers are browsers: the same CSRF rules as the pages.
    if request.method not in SAFE_METHODS:
        reason = _csrf_failure(request)
        if reason is not None:
            raise CsrfRefused(f"CSRF check failed ({reason}): send the X-CSRFToken header with your session.")
    request.api_channel = "api-session"
    return request.user


def acting(view: Callable) -> Callable:
    """Every audit event an operation records names the channel it came through."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        with acting_via(request.api_channel):
            return view(request, *args, **kwargs)

    return wrapper


# --- The body -------------------------------------------------------------------------------------------


def _body_too_big() -> InvalidInput:
    return InvalidInput({"body": [f"The body may be at most {MAX_BODY_BYTES // (1024 * 1024)} MB."]})


def body_read(request: HttpRequest) -> None:
    """Read the body from the stream before anything asks for `request.body`, whose own limit
    (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) would answer a 2.5-5 MB registration with Django's HTML 400.
    A body over the API's limit is not read: the parser refuses it once the caller is known."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        request._body, request.body_too_big = b"-", True
        return
    body = request.read(MAX_BODY_BYTES + 1)
    request._body, request.body_too_big = body, len(body) > MAX_BODY_BYTES


class JsonBody(Parser):
    """The JSON of a body, or InvalidInput on `body` saying why there is none."""

    def parse_body(self, request: HttpRequest):
        if getattr(request, "body_too_big", False):
            raise _body_too_big()
        if (request.content_type or "") != "application/json":
            raise InvalidInput({"body": ["Send JSON with Content-Type: application/json."]})
        try:
            return json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidInput({"body": [f"The body is not valid JSON: {error}."]}) from None
        except RecursionError:
            # A few MB of `[[[[…` nest deeper than the parser can go: an input error, not a server error.
            raise InvalidInput({"body": ["The body nests too deeply."]}) from None
