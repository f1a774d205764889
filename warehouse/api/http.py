"""The API's edge: who is calling, reading JSON, and turning service errors into JSON answers.

Machines send `Authorization: Bearer <token>`; a signed-in browser may call with its session, and then
CSRF applies exactly as on the pages. Every error is `{"error": {"code", "message", "fields"?}}`.
"""

import functools
import json
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from warehouse.accounts.services import api_token_authenticate
from warehouse.audit.services import acting_via
from warehouse.errors import Conflict, InvalidInput

MAX_BODY_BYTES = 5 * 1024 * 1024
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def error_response(status: int, code: str, message: str, fields: dict | None = None, **headers) -> JsonResponse:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse({"error": body}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unauthorized(message: str) -> JsonResponse:
    return error_response(401, "unauthenticated", message, WWW_Authenticate='Bearer realm="warehouse"')


def _csrf_failure(request: HttpRequest) -> JsonResponse | None:
    # Session callers are browsers: the same CSRF rules as the pages.
    check = CsrfViewMiddleware(lambda req: None)
    check.process_request(request)
    refused = check.process_view(request, None, (), {})
    if refused is not None:
        return error_response(403, "csrf_failed", "CSRF check failed: send the X-CSRFToken header with your session.")
    return None


def read_json(request: HttpRequest):
    if len(request.body) > MAX_BODY_BYTES:
        raise InvalidInput({"body": [f"The body may be at most {MAX_BODY_BYTES // (1024 * 1024)} MB."]})
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise InvalidInput({"body": ["Send JSON with Content-Type: application/json."]})
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput({"body": [f"The body is not valid JSON: {error}."]}) from None


def api_endpoint(methods: tuple[str, ...]) -> Callable:
    """Authenticate, check the method, and answer every known error as JSON."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                response = error_response(
                    405, "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(methods)}."
                )
                response["Allow"] = ", ".join(methods)
                return response
            header = request.headers.get("Authorization", "")
            if header:
                scheme, _, secret = header.partition(" ")
                if scheme.lower() != "bearer" or not secret.strip():
                    return _unauthorized("Use 'Authorization: Bearer <token>'.")
                token = api_token_authenticate(secret.strip())
                if token is None:
                    return _unauthorized("The token is unknown, revoked or expired.")
                request.user = token.user
                channel = f"api-token:{token.prefix}"
            elif request.user.is_authenticated:
                if request.method not in SAFE_METHODS:
                    refused = _csrf_failure(request)
                    if refused is not None:
                        return refused
                channel = "api-session"
            else:
                return _unauthorized("Sign in, or send an API token: 'Authorization: Bearer <token>'.")
            try:
                with acting_via(channel):
                    return view(request, *args, **kwargs)
            except InvalidInput as error:
                return error_response(400, error.code, error.message, error.errors)
            except PermissionDenied as error:
                return error_response(403, "permission_denied", str(error) or "You may not do this.")
            except Http404 as error:
                return error_response(404, "not_found", str(error) or "Not found.")
            except Conflict as error:
                return error_response(409, error.code, error.message)

        return wrapper

    return decorate
