"""What holds for every request: the audit channel, the security headers of every response, and JSON for
every error on the paths machines call."""

import sys
from http import HTTPStatus

from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse

from warehouse.api.http import NOT_FOUND_MESSAGE, SAFE_METHODS
from warehouse.api.mlflow.http import MLFLOW_PATHS, code_of_status, mlflow_error_response
from warehouse.api.production import DATABASE_UNAVAILABLE, UNREACHABLE
from warehouse.audit.services import acting_via
from warehouse.changes import heard_before_answering
from warehouse.machine_http import error_response

MACHINE_PATHS = ("/api/", "/hooks/")
DATABASE_UNAVAILABLE_MESSAGE = (
    "The registry's database cannot be reached; nothing was answered or saved. Try again shortly."
)
DATABASE_RETRY = {"Retry_After": dict(DATABASE_UNAVAILABLE.header_items())["Retry-After"]}
# Django's own answers on those paths, reworded for a program: unknown paths (an odd character, a
# missing version), a Host Django refuses, a body Django would not read, a server error.
ENVELOPES = {
    400: ("bad_request", "The request cannot be read (its Host header, or its form)."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", NOT_FOUND_MESSAGE),
    413: ("too_large", "The request is too large."),
    500: (
        "server_error",
        "The server failed to answer; the error is logged. It is safe to try again: what failed was not "
        "saved, and a write sent with an Idempotency-Key acts at most once.",
    ),
}


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class HeardBeforeAnsweringMiddleware:
    """A write is answered once this process has heard its commit on the change feed (a round trip, well
    under a millisecond), so that what its caller reads next from this process includes it: the remembered
    answers (tokens, readers, production, list pages) are forgotten before the answer leaves. Here for
    every unsafe request, so that no writer has to remember it; other processes hear it at the same moment.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in SAFE_METHODS:
            heard_before_answering()
        return response


class AuditChannelMiddleware:
    """Events recorded while answering a request say where they came from (the API narrows it further)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "admin" if request.path.startswith("/admin/") else "web"
        with acting_via(channel):
            return self.get_response(request)


class MachineEdgeMiddleware:
    """On `/api/` and `/hooks/` every answer is JSON. The views answer their own errors in the envelope;
    what reaches here is what Django answered in their place (HTML, or with DEBUG on the debug page that
    lists every route): it becomes the envelope, keeping the status and the headers. A server error whose
    cause was the database out of reach is a 503 with Retry-After, as the production lookup answers: the
    caller should retry, not report a bug.

    First in MIDDLEWARE, so that it sees the answer every other layer made.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        # Django announces an exception it turns into a 500 (wherever it was raised: a view, a middleware)
        # while it is being handled: the one place its cause can be seen.
        got_request_exception.connect(_failure_note, dispatch_uid="machine-edge-failure-note")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path_info.startswith(MACHINE_PATHS) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return _enveloped(request, response)


def _failure_note(sender, request=None, **kwargs) -> None:
    if request is not None:
        request.machine_edge_failure = sys.exc_info()[1]


def _enveloped(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    status = response.status_code
    unreachable = status == 500 and isinstance(getattr(request, "machine_edge_failure", None), UNREACHABLE)
    if request.path_info.startswith(MLFLOW_PATHS):
        # The MLflow client reads its own shape, `{"error_code", "message"}`.
        replacement = _mlflow_enveloped(status, unreachable)
    elif unreachable:
        replacement = HttpResponse(
            DATABASE_UNAVAILABLE.body, status=503, headers=dict(DATABASE_UNAVAILABLE.header_items())
        )
    else:
        code, message = ENVELOPES.get(status) or (_code_of(status), f"The request was refused ({status}).")
        replacement = error_response(status, code, message)
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length") and name not in replacement:
            replacement[name] = value
    replacement.cookies = response.cookies
    return replacement


def _mlflow_enveloped(status: int, unreachable: bool) -> HttpResponse:
    if unreachable:
        message = DATABASE_UNAVAILABLE_MESSAGE
        return mlflow_error_response(503, "TEMPORARILY_UNAVAILABLE", message, **DATABASE_RETRY)
    message = ENVELOPES.get(status, ("", f"The request was refused ({status})."))[1]
    if status == 404:
        message = (
            "No such MLflow endpoint here: see the README's 'Use it from MLflow' for those Warehouse answers."
        )
    return mlflow_error_response(status, code_of_status(status), message)


def _code_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_")  # 429: "too_many_requests"
    except ValueError:
        return "error"
