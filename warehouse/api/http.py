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
NOT_FOUND_MESSAGE = "Not found, or you may not see it."


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


def _unauthorized(message: str) -> JsonResponse:
    return error_response(401, "unauthenticated", message, WWW_Authenticate='Bearer realm="warehouse"')


class _CsrfCheck(CsrfViewMiddleware):
    # Answer the reason instead of rendering the site's HTML failure page (as Django REST framework does).
    def _reject(self, request, reason):
        return reason


def _csrf_failure(request: HttpRequest) -> JsonResponse | None:
    # Session callers are browsers: the same CSRF rules as the pages.
    check = _CsrfCheck(lambda req: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason is not None:
        return error_response(
            403,
            "csrf_failed",
            f"CSRF check failed ({reason}): send the X-CSRFToken header with your session.",
        )
    return None


def _body_too_big() -> InvalidInput:
    return InvalidInput({"body": [f"The body may be at most {MAX_BODY_BYTES // (1024 * 1024)} MB."]})


def read_json(request: HttpRequest):
    """The JSON body of `request`, or InvalidInput saying why there is none.

    The body is read from the stream, not through `request.body`, whose own limit
    (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) would answer a 2.5-5 MB registration with Django's HTML 400.
    """
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _body_too_big()
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise _body_too_big()
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise InvalidInput({"body": ["Send JSON with Content-Type: application/json."]})
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput({"body": [f"The body is not valid JSON: {error}."]}) from None
    except RecursionError:
        # A few MB of `[[[[…` nest deeper than the parser can go: an input error, not a server error.
        raise InvalidInput({"body": ["The body nests too deeply."]}) from None


def method_not_allowed(request: HttpRequest, methods: tuple[str, ...]) -> JsonResponse:
    response = error_response(
        405, "method_not_allowed", f"{request.method} is not allowed here; use {', '.join(methods)}."
    )
    response["Allow"] = ", ".join(methods)
    return response


def api_endpoint(methods: tuple[str, ...], *, public: bool = False) -> Callable:
    """Authenticate, check the method, and answer every known error as JSON.

    A `public` endpoint (the OpenAPI document) answers anyone and ignores credentials.
    """

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                return method_not_allowed(request, methods)
            if public:
                return view(request, *args, **kwargs)
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
            except Http404:
                # One message for "does not exist" and "may not see": Django's own 404 messages name the
                # query, and would tell a hidden model from a missing one (DESIGN invariant 9).
                return error_response(404, "not_found", NOT_FOUND_MESSAGE)
            except Conflict as error:
                return error_response(409, error.code, error.message)

        # Read by the contract tests: the methods the OpenAPI document must describe for this route.
        wrapper.allowed_methods = methods
        return wrapper

    return decorate
