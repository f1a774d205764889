"""The API's edge: who is calling, reading the body, and the JSON error envelope.

Machines send `Authorization: Bearer <token>`; a signed-in browser may call with its session, and then
CSRF applies exactly as on the pages. Every error is `{"error": {"code", "message", "fields"?}}`.
"""

import functools
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from ninja.parser import Parser

from warehouse import machine_http
from warehouse.accounts.serving import token_holder_get
from warehouse.accounts.token_throttle import (
    API_TOKEN_DOOR,
    Knock,
    TokenLockedOut,
    api_token_refusal_record,
    token_door_locked,
)
from warehouse.audit.services import acting_via
from warehouse.changes import current_stamp
from warehouse.machine_http import BodyRefused, error_response, json_content_type_check, json_document

__all__ = ["error_response"]  # the envelope, for the API's modules

MAX_BODY_BYTES = 5 * 1024 * 1024
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NOT_FOUND_MESSAGE = "Not found, or you may not see it."
NO_CREDENTIALS = "Sign in, or send an API token: 'Authorization: Bearer <token>'."


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


CALLER_REFUSALS = (Unauthenticated, CsrfRefused, TokenLockedOut)


def caller(request: HttpRequest) -> AbstractBaseUser:
    """Ninja's authentication for every operation: the token's owner, or the signed-in user.

    A caller that sends a token means that token: a wrong one is refused even with a valid session. From
    an address locked out for sending wrong ones (accounts/token_throttle.py) no token is looked at.
    Asked twice in a request (the idempotency key's owner is needed before ninja asks), it answers the same
    without reading the token again, or counting a wrong one twice.
    """
    known = getattr(request, "warehouse_caller", None)
    if isinstance(known, Exception):
        raise known
    if known is not None:
        return known
    try:
        request.warehouse_caller = _caller_find(request)
    except CALLER_REFUSALS as refusal:
        request.warehouse_caller = refusal
        raise
    return request.warehouse_caller


def _caller_find(request: HttpRequest) -> AbstractBaseUser:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
        knock = Knock.of(request, API_TOKEN_DOOR)
        if token_door_locked(knock):
            raise TokenLockedOut()
        # Remembered in this process while the change feed vouches for it, as for the production lookup: a
        # token revoked or a person deactivated is heard on commit, and counts from the next request.
        holder = token_holder_get(secret=secret.strip(), stamp=current_stamp())
        if holder is None:
            if api_token_refusal_record(knock=knock, secret=secret.strip()):
                raise TokenLockedOut()
            raise Unauthenticated("The token is unknown, revoked or expired.")
        request.user = holder.person()
        request.api_channel = f"api-token:{holder.token_prefix}"
        return request.user
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


def body_read(request: HttpRequest) -> None:
    """Read the body (Content-Length or chunked, at most MAX_BODY_BYTES) before anything asks for
    `request.body`. A body refused unread is refused by the parser, so only once the caller is known and
    only by an operation that takes a body."""
    try:
        machine_http.body_read(request, limit=MAX_BODY_BYTES)
    except BodyRefused as refusal:
        # Not empty, so that ninja hands it to the parser, which answers the refusal.
        request._body, request.body_refused = b"-", refusal


class JsonBody(Parser):
    """The JSON of a body, read strictly (machine_http.json_document): or BodyRefused (413, 415), or
    InvalidInput naming the field that cannot be kept, or `body` when there is no JSON."""

    def parse_body(self, request: HttpRequest):
        refusal = getattr(request, "body_refused", None)
        if refusal is not None:
            raise refusal
        json_content_type_check(request)
        return json_document(request.body)
