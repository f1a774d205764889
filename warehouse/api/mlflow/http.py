"""The MLflow edge: who is calling, the parameters, and MLflow's own error shape.

The MLflow client sends GET parameters in the query string (lists repeated, numbers as text) and a JSON
body with POST, PATCH and DELETE. It accepts status 200 and nothing else as success, and reads an error as
`{"error_code", "message"}`. Callers are found exactly as on /api/v1 (`warehouse.api.http.caller`: the
same tokens, the same lockout for wrong ones, sessions with CSRF); Basic auth with a token as the password
is taken as that token (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD).
"""

import base64
import binascii
import functools
import json
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from warehouse import machine_http
from warehouse.accounts.services import TOKEN_PREFIX
from warehouse.accounts.token_throttle import TokenLockedOut, lockout_seconds
from warehouse.api.http import MAX_BODY_BYTES, NOT_FOUND_MESSAGE, CsrfRefused, Unauthenticated, caller
from warehouse.audit.services import acting_via
from warehouse.errors import Conflict, InvalidInput
from warehouse.machine_http import BodyRefused, json_document

# MLflow's error codes and the statuses its server answers with them (mlflow/protos/databricks.proto).
STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "BAD_REQUEST": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
}
# Django's own answers on these paths (a Host refused, an unknown path, a server error), in MLflow's words.
CODE_OF_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    413: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}
MLFLOW_PATHS = ("/api/2.0/mlflow/", "/api/3.0/mlflow/")
NO_CREDENTIALS = (
    "Send a Warehouse API token: set MLFLOW_TRACKING_TOKEN (sent as 'Authorization: Bearer <token>'), or "
    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD=<token>."
)


class MlflowError(Exception):
    """An answer in MLflow's error shape; the status follows the code unless given."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or STATUS.get(code, 400)


def mlflow_error_response(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error_code": code, "message": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def code_of_status(status: int) -> str:
    if status >= 500:
        return "TEMPORARILY_UNAVAILABLE" if status == 503 else "INTERNAL_ERROR"
    return CODE_OF_STATUS.get(status, "BAD_REQUEST")


def invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def not_found(message: str = NOT_FOUND_MESSAGE) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", message)


# --- Parameters -----------------------------------------------------------------------------------------


class Params:
    """A request's parameters: the query string of a GET, the JSON object of any other method."""

    def __init__(self, request: HttpRequest):
        self.query = request.GET if request.method == "GET" else None
        self.body: dict = {}
        if self.query is None and request.body:
            document = json_document(request.body)
            if not isinstance(document, dict):
                raise invalid("The body must be a JSON object.")
            self.body = document

    def _raw(self, name: str):
        if self.query is not None:
            return self.query.get(name)
        return self.body.get(name)

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return default
        if not isinstance(value, str):
            raise invalid(f"Parameter '{name}' must be a string.")
        return value

    def integer(self, name: str, *, default: int | None = None, required: bool = False) -> int | None:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise invalid(f"Parameter '{name}' must be a whole number.")
        try:
            return int(value)
        except ValueError:
            raise invalid(f"Parameter '{name}' must be a whole number, not {value!r}.") from None

    def texts(self, name: str) -> list[str]:
        values = self.query.getlist(name) if self.query is not None else self.body.get(name) or []
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise invalid(f"Parameter '{name}' must be a list of strings.")
        return values

    def tags(self) -> list[tuple[str, str]]:
        tags = self.body.get("tags") or [] if self.query is None else []
        if not isinstance(tags, list):
            raise invalid("Parameter 'tags' must be a list of {key, value}.")
        pairs = []
        for tag in tags:
            if not isinstance(tag, dict) or not isinstance(tag.get("key"), str) or not tag["key"]:
                raise invalid("Each tag must be an object with a non-empty 'key'.")
            value = tag.get("value", "")
            pairs.append((tag["key"], "" if value is None else str(value)))
        return pairs


# --- Who is calling -------------------------------------------------------------------------------------


def _basic_as_bearer(request: HttpRequest) -> str | None:
    """With Basic auth whose password is a Warehouse token, the token is what is presented: the header is
    read as its Bearer twin, and the user name, returned, must be the token's owner's."""
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("The Basic credentials cannot be read.") from None
    if not password.startswith(TOKEN_PREFIX):
        raise Unauthenticated(
            "Basic auth takes a Warehouse API token as the password (MLFLOW_TRACKING_PASSWORD=<token>)."
        )
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {password}"
    return username


def mlflow_caller(request: HttpRequest):
    username = _basic_as_bearer(request)
    user = caller(request)
    if username is not None and username != user.get_username():
        raise Unauthenticated("The token does not belong to that user name.")
    return user


# --- The endpoint ---------------------------------------------------------------------------------------


def _refusal(error: Exception) -> JsonResponse | None:
    """The MLflow answer to an error a view or the caller check raised; None for an unexpected one."""
    if isinstance(error, MlflowError):
        return mlflow_error_response(error.status, error.code, error.message)
    if isinstance(error, Unauthenticated):
        message = NO_CREDENTIALS if not error.args else f"{error} {NO_CREDENTIALS}"
        return mlflow_error_response(
            401, "UNAUTHENTICATED", message, WWW_Authenticate='Bearer realm="warehouse"'
        )
    if isinstance(error, TokenLockedOut):
        return mlflow_error_response(
            429, "REQUEST_LIMIT_EXCEEDED", str(error), Retry_After=str(lockout_seconds())
        )
    if isinstance(error, CsrfRefused | PermissionDenied):
        return mlflow_error_response(403, "PERMISSION_DENIED", str(error) or "You may not do this.")
    if isinstance(error, Http404):
        return mlflow_error_response(404, "RESOURCE_DOES_NOT_EXIST", NOT_FOUND_MESSAGE)
    if isinstance(error, InvalidInput):
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.errors.items())
        return mlflow_error_response(400, "INVALID_PARAMETER_VALUE", problems or error.message)
    if isinstance(error, BodyRefused):
        return mlflow_error_response(error.status, "INVALID_PARAMETER_VALUE", error.message)
    if isinstance(error, Conflict):
        return mlflow_error_response(409, "RESOURCE_CONFLICT", error.message)
    return None


def endpoint(*methods: str, warm: Callable[[HttpRequest], dict | None] | None = None) -> Callable:
    """An MLflow operation: `view(request, params)` returns the JSON answer (status 200). Every refusal is
    answered in MLflow's shape; anything else is left to Django and the machine edge (500, or 503 when the
    database is out of reach). `warm(request)`, when given, is asked first: its answer, or None to go the
    ordinary way (who asks, from the database, then the view)."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest) -> JsonResponse:
            if request.method not in methods:
                response = mlflow_error_response(
                    405,
                    "ENDPOINT_NOT_FOUND",
                    f"{request.method} is not allowed here; use {', '.join(methods)}.",
                )
                response["Allow"] = ", ".join(methods)
                return response
            if warm is not None and (answer := warm(request)) is not None:
                return JsonResponse(answer, status=200)
            try:
                machine_http.body_read(request, limit=MAX_BODY_BYTES)
                request.user = mlflow_caller(request)
                params = Params(request)
                with acting_via(request.api_channel):
                    return JsonResponse(view(request, params), status=200)
            except Exception as error:
                response = _refusal(error)
                if response is None:
                    raise
                return response

        return wrapper

    return decorate


def page_token_read(token: str) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()).decode())["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("Invalid page token.") from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid("Invalid page token.")
    return offset


def page_token_of(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()
