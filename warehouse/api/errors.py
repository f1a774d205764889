"""Every error an operation meets, answered as the JSON envelope: the services' own errors, ninja's
validation errors with each field by its path in the body (`artifacts[1].sha256`), and who-is-calling
(including an address locked out for wrong tokens: 429)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from warehouse.accounts.token_throttle import TokenLockedOut, lockout_seconds
from warehouse.api.http import NO_CREDENTIALS, NOT_FOUND_MESSAGE, CsrfRefused, Unauthenticated, error_response
from warehouse.api.schemas.common import TAG_PREFIX
from warehouse.errors import Conflict, InvalidInput
from warehouse.machine_http import BodyRefused

# Pydantic's words for a few kinds of error, in the house's.
MESSAGES = {
    "missing": "Required.",
    "extra_forbidden": "Unknown field.",
    "finite_number": "Must be a finite number.",
    "string_type": "Must be text.",
    "bool_type": "Must be true or false.",
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "float_type": "Must be a number.",
    "list_type": "Must be a list.",
    "model_type": "Must be an object.",
    "dict_type": "Must be an object.",
}


def field_path(location: tuple) -> str:
    """`("artifacts", 1, "sha256")` as `artifacts[1].sha256`; the body as a whole is `body`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.startswith(TAG_PREFIX):
            continue  # which member of a union: not a field
        else:
            path += f".{part}" if path else part
    return path or "body"


def _where(error: dict) -> tuple:
    source, *rest = error["loc"]
    # A body's location starts with the name of the view's argument that holds it.
    return tuple(rest[1:]) if source == "body" else tuple(rest)


def _message(error: dict) -> str:
    if error["type"] == "missing" and not _where(error):
        return "Send a JSON object in the body."
    if error["type"] == "literal_error":
        return f"Must be one of: {error['ctx']['expected'].replace(' or ', ', ')}."
    return MESSAGES.get(error["type"]) or f"{error['msg'].removeprefix('Value error, ')}."


def fields_of(errors: list[dict]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        found = fields.setdefault(field_path(_where(error)), [])
        message = _message(error)
        if message not in found:
            found.append(message)
    return fields


def add_handlers(api: NinjaAPI) -> None:
    def invalid(request: HttpRequest, error: InvalidInput):
        return error_response(400, error.code, error.message, error.errors)

    def validation(request: HttpRequest, error: ValidationError):
        return error_response(
            400, "invalid", "The input has errors; nothing was saved.", fields_of(error.errors)
        )

    def http_error(request: HttpRequest, error: HttpError):
        # Ninja's "Cannot parse request body" wraps the parser's own refusal.
        if isinstance(error.__cause__, InvalidInput):
            return invalid(request, error.__cause__)
        if isinstance(error.__cause__, BodyRefused):
            return error.__cause__.response()
        return error_response(error.status_code, "invalid", str(error))

    def unauthenticated(request: HttpRequest, error: Exception):
        message = str(error) if isinstance(error, Unauthenticated) else NO_CREDENTIALS
        return error_response(401, "unauthenticated", message, WWW_Authenticate='Bearer realm="warehouse"')

    def locked_out(request: HttpRequest, error: TokenLockedOut):
        return error_response(429, "locked_out", str(error), Retry_After=str(lockout_seconds()))

    def csrf_refused(request: HttpRequest, error: CsrfRefused):
        return error_response(403, "csrf_failed", str(error))

    def permission_denied(request: HttpRequest, error: PermissionDenied):
        return error_response(403, "permission_denied", str(error) or "You may not do this.")

    def not_found(request: HttpRequest, error: Http404):
        # One message for "does not exist" and "may not see": Django's own 404 messages name the query, and
        # would tell a hidden model from a missing one (DESIGN invariant 9).
        return error_response(404, "not_found", NOT_FOUND_MESSAGE)

    def conflict(request: HttpRequest, error: Conflict):
        return error_response(409, error.code, error.message)

    def unexpected(request: HttpRequest, error: Exception):
        # Django's, not ninja's: with DEBUG on, ninja would answer a plain-text traceback. Django logs it,
        # and the machine edge (warehouse/middleware.py) answers the envelope: 500, or 503 when the database
        # is out of reach.
        raise error

    for kind, handler in [
        (Exception, unexpected),
        (InvalidInput, invalid),
        (ValidationError, validation),
        (HttpError, http_error),
        (Unauthenticated, unauthenticated),
        (AuthenticationError, unauthenticated),
        (TokenLockedOut, locked_out),
        (CsrfRefused, csrf_refused),
        (PermissionDenied, permission_denied),
        (Http404, not_found),
        (Conflict, conflict),
    ]:
        api.add_exception_handler(kind, handler)
