"""/api/v1, declared once: each operation's parameters, body and answers are pydantic classes
(`warehouse/api/schemas/`), from which ninja validates the input, shapes the output and writes the OpenAPI
document (`/api/v1/openapi.json`, browsable at `/api/v1/docs`)."""

import functools
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase
from ninja.openapi.schema import get_schema

from warehouse.api import errors
from warehouse.api.endpoints import cards, imports, models, policies, promotions
from warehouse.api.endpoints.common import path_parameters_documented
from warehouse.api.http import MAX_BODY_BYTES, JsonBody, acting, caller, method_not_allowed
from warehouse.api.idempotency import idempotency_documented

DESCRIPTION = (
    "Register model versions with their evidence, read models and versions, ask what is in production, read "
    "and revise promotion policies, run quality gates, request promotion and sign off, read and revise model "
    "cards and export them.\n\n"
    'Every error is JSON: `{"error": {"code", "message", "fields"?}}` with status 400 (bad input, nothing '
    "written; `fields` names each bad field by its path, as `artifacts[1].sha256`), 401 (no or bad "
    "credentials), 403 (not allowed; recorded in the audit trail), 404 (no such thing, or not visible to the "
    "caller), 405 (method not allowed; see the Allow header), 409 (the current state refuses it) or 429 "
    "`locked_out` with Retry-After (too many wrong tokens from the caller's address: its tokens are refused "
    "for a while, right or wrong). A body that is not JSON is 415, one too large 413; a server error is 500, "
    "and 503 with Retry-After when the database cannot be reached. The production lookup may also answer "
    "304 (not modified, for pollers) and 429 `too_many_waiting`.\n\n"
    "Bodies are JSON in UTF-8 (`Content-Type: application/json`), sent with Content-Length or chunked, at "
    f"most {MAX_BODY_BYTES // (1024 * 1024)} MB. Text holding a NUL character or a lone surrogate "
    "(`\\u0000`, `\\ud800`) is refused, naming the field. "
    "Permissions are per model: a model the caller may not see does not exist for them (404).\n\n"
    "Every POST and PUT accepts an `Idempotency-Key` header, for callers that retry: a retry with the same "
    "key and the same request gets the first answer again, with `Idempotent-Replayed: true`, and does not "
    "act twice; the same key with another request is 409 `idempotency_key_reused`."
)

SECURITY_SCHEMES = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "wh_<prefix>_<secret>",
        "description": (
            "A personal API token (Account → API tokens), sent as `Authorization: Bearer <token>`. Audit "
            "events record it as `api-token:<prefix>`."
        ),
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": settings.SESSION_COOKIE_NAME,
        "description": (
            "A signed-in browser's session. Unsafe methods (POST, PUT) also need the CSRF token in the "
            "X-CSRFToken header, as on the pages; without it they answer 403 `csrf_failed`."
        ),
    },
}

METHOD_NOT_ALLOWED = {
    "description": (
        "The method is not allowed on this path, whoever asks. Versions and their evidence are "
        "immutable: PUT, "
        "PATCH and DELETE answer 405. The Allow header lists the methods that are."
    ),
    "headers": {
        "Allow": {"schema": {"type": "string"}, "description": "The allowed methods, e.g. `GET, POST`."}
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _error_answer(description: str, **headers: str) -> dict:
    answer: dict = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        answer["headers"] = {
            name.replace("_", "-"): {"schema": {"type": "string"}, "description": text}
            for name, text in headers.items()
        }
    return answer


# What the edge answers for any operation (warehouse/machine_http.py, warehouse/middleware.py), and for any
# that takes a body. Listed on each operation, so a client generated from the document knows them.
EDGE_ANSWERS = {
    "500": _error_answer(
        "The server failed (`server_error`); the error is logged and what failed was not saved. Safe to "
        "retry; a write sent with an Idempotency-Key acts at most once."
    ),
    "503": _error_answer(
        "The registry's database cannot be reached (`database_unavailable`); nothing was answered or saved. "
        "Retry after the given seconds.",
        Retry_After="Seconds to wait before retrying.",
    ),
}
BODY_ANSWERS = {
    "411": _error_answer(
        "A chunked body this server cannot decode (`length_required`): send Content-Length. Not answered "
        "behind the production proxy, which decodes chunked bodies."
    ),
    "413": _error_answer(f"The body is over {MAX_BODY_BYTES // (1024 * 1024)} MB (`too_large`); not read."),
    "415": _error_answer(
        "The body is not declared JSON in UTF-8 (`unsupported_media_type`): send `Content-Type: "
        "application/json`."
    ),
}
LOCKED_OUT = {
    "description": (
        "`locked_out`: too many wrong tokens came from the caller's address lately, so its tokens are "
        "refused for a while, right or wrong, without being looked at. Retry-After says for how long at most."
    ),
    "headers": {
        "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait before asking again."}
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="warehouse"'}
}


class SwaggerPage(DocsBase):
    """Swagger UI from our own static files (ninja ships them): no CDN, and nothing inline, so the page works
    under the site's Content-Security-Policy (its settings travel as a JSON data block, which is not run)."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs) -> HttpResponse:
        settings_json = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
        }
        return render(request, "api/docs.html", {"api": api, "swagger_settings": settings_json})


class WarehouseAPI(NinjaAPI):
    def get_content_type(self) -> str:
        # As every other answer of the API (JsonResponse's): JSON is UTF-8 by definition.
        return "application/json"

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        # Paths are relative to the server URL, which says where the API lives.
        document = get_schema(api=self, path_prefix="")
        document["servers"] = [{"url": f"{settings.WAREHOUSE_BASE_URL}/api/v1"}]
        document["security"] = [{"bearerToken": []}, {"sessionCookie": []}]
        document["components"]["securitySchemes"] = SECURITY_SCHEMES
        # An answer of every path rather than of an operation.
        document["components"]["responses"] = {"MethodNotAllowed": METHOD_NOT_ALLOWED}
        document["tags"] = [{"name": name} for name in TAGS]
        path_parameters_documented(document)
        # As it is served: JSON, whose keys are text (ninja keys the answers by number).
        document = json.loads(json.dumps(document))
        for item in document["paths"].values():
            for operation in item.values():
                operation["responses"]["401"]["headers"] = WWW_AUTHENTICATE
                # Any operation may meet a token from an address locked out for wrong ones.
                operation["responses"].setdefault("429", json.loads(json.dumps(LOCKED_OUT)))
                edge = {**EDGE_ANSWERS, **(BODY_ANSWERS if "requestBody" in operation else {})}
                for status, answer in edge.items():
                    operation["responses"].setdefault(status, answer)
        idempotency_documented(document)
        return document


def readable_only(view):
    """The document and its page answer anyone (no credentials), and only to reading."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed(request, ("GET",))
        return view(request, *args, **kwargs)

    return wrapper


TAGS = ("models", "versions", "serving", "policies", "gates", "promotions", "cards")

api = WarehouseAPI(
    title="Warehouse API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=caller,
    parser=JsonBody(),
    docs=SwaggerPage(),
    docs_url="/docs",
    docs_decorator=readable_only,
)
api.add_decorator(acting)
errors.add_handlers(api)
for module in (models, imports, policies, promotions, cards):
    api.add_router("", module.router)
