"""What the API tests share: calling as someone, counting what was written, and holding answers to the
OpenAPI document."""

import json

from django.conf import settings
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from warehouse.accounts.services import IssuedToken, api_token_create
from warehouse.api.app import api
from warehouse.audit.models import AuditEvent
from warehouse.cards.models import CardRevision
from warehouse.registry.models import Artifact, ModelVersion, RegisteredModel, SliceMetric

API = "/api/v1"


def issue_token(user, name: str = "tests") -> IssuedToken:
    return api_token_create(actor=user, user=user, name=name)


def bearer(user_or_token) -> dict[str, str]:
    """Client kwargs that authenticate as `user_or_token` (a user gets a fresh token)."""
    issued = user_or_token if isinstance(user_or_token, IssuedToken) else issue_token(user_or_token)
    return {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}


LOCKED_OUT_ADDRESS = "192.0.2.250"


def locked_out(client, user_or_token) -> dict[str, str]:
    """Client kwargs that call with a good token from an address locked out for sending wrong ones (it is,
    once this returns): every operation answers them 429 `locked_out`."""
    for _ in range(settings.TOKEN_FAILURE_LIMIT):
        client.get(
            f"{API}/models", HTTP_AUTHORIZATION="Bearer wh_0badc0de_wrong", REMOTE_ADDR=LOCKED_OUT_ADDRESS
        )
    return {**bearer(user_or_token), "REMOTE_ADDR": LOCKED_OUT_ADDRESS}


def post_json(client, path: str, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"{API}{path}", data=data, content_type="application/json", **extra)


def get(client, path: str, **extra):
    return client.get(f"{API}{path}", **extra)


WRITTEN = (ModelVersion, Artifact, SliceMetric, RegisteredModel, CardRevision, AuditEvent)


def written() -> dict[str, int]:
    """Rows of everything a registration writes (or a refusal audits), to compare before and after."""
    return {model.__name__: model.objects.count() for model in WRITTEN}


# --- The contract ---------------------------------------------------------------------------------------

DOCUMENT_URI = "urn:warehouse:api:v1:openapi"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _closed(node):
    """A copy of a schema in which every object schema refuses fields it does not list.

    The document leaves response objects open so v1 may add fields; the tests close them so every field
    the serializers send has to be documented.
    """
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _closed(value) for key, value in node.items()}
    types = copy.get("type")
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    if is_object and "properties" in copy and "additionalProperties" not in copy:
        copy["additionalProperties"] = False
    return copy


# The edge's answers (warehouse/api/app.py: EDGE_ANSWERS, BODY_ANSWERS), documented on every operation and
# produced for all of them in tests/api/test_machine_edge.py.
EDGE_STATUSES = {"411", "413", "415", "500", "503"}


def own_statuses(operation: dict) -> list[str]:
    """The statuses an operation documents, but the edge's."""
    return [status for status in operation["responses"] if status not in EDGE_STATUSES]


class Contract:
    """The OpenAPI document, and checks of real answers against it (`$ref`s resolved within it)."""

    def __init__(self, document: dict | None = None):
        self.document = document or api.get_openapi_schema()
        strict = _closed(self.document)
        resource = Resource.from_contents(strict, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{pointer}"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    def errors(self, pointer: str, instance) -> list[str]:
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in self.validator(pointer).iter_errors(instance)
        ]

    def schema_pointer(self, name: str) -> str:
        assert name in self.document["components"]["schemas"], f"no schema {name!r} in the document"
        return f"/components/schemas/{name}"

    def response_pointer(self, path: str, method: str, status: int) -> tuple[str, dict]:
        """The pointer of the documented response and the response object, following a $ref."""
        operation = self.document["paths"][path][method.lower()]
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method.upper()} {path} does not document status {status}"
        pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
        if "$ref" in response:
            name = response["$ref"].removeprefix("#/components/responses/")
            pointer, response = (
                f"/components/responses/{name}",
                self.document["components"]["responses"][name],
            )
        return pointer, response

    def check_answer(self, response, *, pointer: str, documented: dict) -> None:
        for header in documented.get("headers", {}):
            assert response.has_header(header), f"the documented {header} header is missing"
        if "content" not in documented:
            # A documented answer without a body (304 Not Modified).
            assert response.content == b"", response.content[:200]
            return
        assert response["Content-Type"] == "application/json", response.content[:200]
        problems = self.errors(f"{pointer}/content/application~1json/schema", response.json())
        assert not problems, "\n".join(problems)

    def check(self, response, path: str, method: str) -> dict:
        """Assert that `response` is a documented answer of `method path`; return its JSON body ({} for an
        answer documented without one)."""
        pointer, documented = self.response_pointer(path, method, response.status_code)
        self.check_answer(response, pointer=pointer, documented=documented)
        return response.json() if response.content else {}

    def check_component(self, response, name: str) -> dict:
        """For answers no operation lists (405 on a method the path does not have)."""
        documented = self.document["components"]["responses"][name]
        self.check_answer(response, pointer=f"/components/responses/{name}", documented=documented)
        return response.json()


def error_fields(response) -> dict[str, list[str]]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"].get("fields", {})
