"""The OpenAPI document, generated from the schemas the API validates with: valid, complete for every route,
and true of what the endpoints answer."""

import copy
import re

import pytest
from django.conf import settings
from django.urls import URLPattern
from openapi_spec_validator import validate

from tests.api.support import API, Contract, bearer, get, locked_out, own_statuses, post_json
from tests.factories import evidence_payload, version_move
from warehouse.api import urls as api_urls
from warehouse.api.examples import EXAMPLE_REGISTRATION
from warehouse.registry.models import ModelVersion, Stage

# The catch-all, the API's root (both the JSON 404), the document and its page: not operations.
NOT_OPERATIONS = {"not-found", "api-root", "openapi-json", "openapi-view"}
METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> list[URLPattern]:
    return [pattern for pattern in api_urls.urlpatterns if pattern.name not in NOT_OPERATIONS]


def _methods_answered(client, path: str) -> set[str]:
    """The methods a path has: those it does not answer 405 (it is asked without credentials)."""
    concrete = path.replace("{name}", "fraud-scorer")
    concrete = re.sub(r"{\w+}", "1", concrete)
    return {method for method in METHODS if getattr(client, method)(f"{API}{concrete}").status_code != 405}


def _documented_path(pattern: URLPattern) -> str:
    # Django's <int:number> is OpenAPI's {number}.
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def test_it_is_served_to_anyone_and_is_a_valid_openapi_3_1_document(client):
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": f"{settings.WAREHOUSE_BASE_URL}/api/v1"}]


def test_it_is_served_even_with_bad_credentials(client):
    assert client.get(f"{API}/openapi.json", HTTP_AUTHORIZATION="Bearer wh_nope").status_code == 200


def test_the_document_and_its_page_are_only_read(client):
    for path in ("/openapi.json", "/docs"):
        response = client.post(f"{API}{path}")
        assert response.status_code == 405 and response["Allow"] == "GET", path


def test_it_documents_every_route_with_exactly_its_methods(client, contract):
    documented = contract.document["paths"]
    routes = {_documented_path(pattern): pattern for pattern in _routes()}

    assert set(documented) == set(routes)
    # The production lookup is served by a plain view routed before the API; it is documented all the same.
    assert "/models/{name}/production" in documented
    for path in routes:
        operations = {key for key in documented[path] if key in METHODS}
        assert operations == _methods_answered(client, path), path
        # Each path parameter of the route is declared, at the path or on every operation.
        names = set(re.findall(r"{(\w+)}", path))
        for method in operations:
            declared = {
                p["name"]
                for p in documented[path].get("parameters", [])
                + documented[path][method].get("parameters", [])
                if p["in"] == "path"
            }
            assert declared == names, (path, method)


def test_every_operation_has_an_id_and_answers_401(contract):
    ids = []
    for path, item in contract.document["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            # Every operation needs credentials (the document's `security`); none opts out.
            assert "security" not in operation, (method, path)
            assert "401" in operation["responses"], (method, path)
    assert len(ids) == len(set(ids))


def test_it_describes_both_ways_to_authenticate(contract):
    schemes = contract.document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"] == {
        **schemes["sessionCookie"],
        "type": "apiKey",
        "in": "cookie",
        "name": settings.SESSION_COOKIE_NAME,
    }
    assert contract.document["security"] == [{"bearerToken": []}, {"sessionCookie": []}]


def test_the_error_envelope_covers_every_error_status(contract):
    schemas = contract.document["components"]["schemas"]
    envelope = schemas["Error"]
    assert envelope["required"] == ["error"]
    assert envelope["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "fields"}
    for path, item in contract.document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    # 405 is an answer of every path rather than of an operation.
    responses = contract.document["components"]["responses"]
    assert set(responses) == {"MethodNotAllowed"}
    assert "Allow" in responses["MethodNotAllowed"]["headers"]


# --- The registration body -------------------------------------------------------------------------------


def _registration_errors(contract: Contract, body) -> list[str]:
    return contract.errors("/components/schemas/Registration", body)


def test_the_example_body_is_valid_and_is_accepted(client, contract, team, contributor):
    operation = contract.document["paths"]["/models/{name}/versions"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["fraud-scorer"]["value"]
    assert example == EXAMPLE_REGISTRATION
    assert _registration_errors(contract, example) == []

    response = post_json(client, "/models/fraud-scorer/versions", example, **bearer(contributor))

    assert response.status_code == 201, response.content
    contract.check(response, "/models/{name}/versions", "post")


def test_the_test_factories_body_is_valid(contract):
    assert _registration_errors(contract, evidence_payload()) == []
    assert (
        _registration_errors(contract, evidence_payload(card="# Fraud\n\n## Known failures\nNew merchants."))
        == []
    )
    assert _registration_errors(contract, {"artifacts": evidence_payload()["artifacts"]}) == []


def _mutated(**changes):
    body = copy.deepcopy(EXAMPLE_REGISTRATION)
    for dotted, value in changes.items():
        target = body
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value
    return body


# What the schema can say, it says: each body is refused by the schema and by the API alike.
REFUSED_BY_BOTH = {
    "unknown-top-level-field": _mutated(colour="blue"),
    "unknown-artifact-field": _mutated(artifacts__0__md5="x"),
    "unknown-source-run-field": _mutated(source_run__branch="main"),
    "unknown-evaluation-field": _mutated(evaluation__notes="x"),
    "unknown-metric-field": _mutated(evaluation__metrics__0__unit="%"),
    "unknown-slice-field": _mutated(evaluation__slices__0__weight=1),
    "unknown-profile-field": _mutated(profile__gpu="a100"),
    "unknown-model-field": _mutated(model={"owner": "carol"}),
    "unknown-card-section": _mutated(card={"summary": "x"}),
    "no-artifacts": _mutated(artifacts=[]),
    "artifact-kind": _mutated(artifacts__0__kind="binary"),
    "artifact-scheme": _mutated(artifacts__0__uri="ftp://host/model.onnx"),
    "artifact-credentials": _mutated(artifacts__0__uri="s3://key:secret@bucket/model.onnx"),
    "artifact-space": _mutated(artifacts__0__uri="s3://bucket/my model.onnx"),
    "sha256": _mutated(artifacts__0__sha256="ab" * 31),
    "negative-size": _mutated(artifacts__0__size_bytes=-1),
    "git-commit": _mutated(source_run__git_commit="HEAD"),
    "run-link": _mutated(source_run__url="javascript:alert(1)"),
    "metric-name": _mutated(evaluation__metrics__0__name="1st"),
    "metric-direction": _mutated(evaluation__metrics__2__direction="up"),
    "slice-key": _mutated(evaluation__slices__0__slice="EU"),
    "sample-count": _mutated(evaluation__slices__0__sample_count=0),
    "negative-latency": _mutated(profile__latency_p50_ms=-1),
    "currency": _mutated(profile__currency="usd"),
    "card-type": _mutated(card=42),
    "model-type": _mutated(model="payments"),
    "body-type": [EXAMPLE_REGISTRATION],
}


@pytest.mark.parametrize("body", REFUSED_BY_BOTH.values(), ids=REFUSED_BY_BOTH.keys())
def test_the_schema_refuses_what_the_api_refuses(client, contract, team, contributor, body):
    assert _registration_errors(contract, body), "the schema accepts a body the API refuses"

    response = post_json(client, "/models/fraud-scorer/versions", body, **bearer(contributor))

    assert response.status_code == 400, response.content
    contract.check(response, "/models/{name}/versions", "post")


# --- Real answers against the document ---------------------------------------------------------------------


def test_every_answer_of_every_endpoint_matches_the_document(
    client, contract, model, version, contributor, viewer, outsider, django_capture_on_commit_callbacks
):
    """Each documented status of each operation, produced for real and checked against its schema (response
    objects closed, so an undocumented field fails)."""
    writer, reader, stranger = bearer(contributor), bearer(viewer), bearer(outsider)
    locked = locked_out(client, contributor)
    seen: set[tuple[str, str, int]] = set()

    def check(response, path, method="get"):
        contract.check(response, path, method)
        seen.add((path, method, response.status_code))
        return response

    # Nothing in production yet.
    check(get(client, "/models/fraud-scorer/production", **reader), "/models/{name}/production")
    # A second version, promoted over the first: every field of the answers is filled.
    with django_capture_on_commit_callbacks(execute=True):
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    created = check(
        post_json(client, "/models/fraud-scorer/versions", EXAMPLE_REGISTRATION, **writer),
        "/models/{name}/versions",
        "post",
    )
    second = created.json()["version"]
    with django_capture_on_commit_callbacks(execute=True):
        version_move(
            ModelVersion.objects.get(uuid=created.json()["uuid"]),
            Stage.STAGING,
            Stage.PRODUCTION,
            actor=contributor,
        )

    for path, concrete in [
        ("/models", "/models"),
        ("/models/{name}", "/models/fraud-scorer"),
        ("/models/{name}/versions", "/models/fraud-scorer/versions"),
        ("/models/{name}/versions/{number}", f"/models/fraud-scorer/versions/{second}"),
        ("/models/{name}/versions/{number}", "/models/fraud-scorer/versions/1"),
        ("/models/{name}/production", "/models/fraud-scorer/production"),
    ]:
        assert check(get(client, concrete, **reader), path).status_code == 200
        assert check(get(client, concrete), path).status_code == 401
        assert check(get(client, concrete, **locked), path).status_code == 429
        if path != "/models":
            assert check(get(client, concrete, **stranger), path).status_code == 404
    production = "/models/{name}/production"
    etag = get(client, "/models/fraud-scorer/production", **reader)["ETag"]
    check(get(client, "/models/fraud-scorer/production", HTTP_IF_NONE_MATCH=etag, **reader), production)
    check(get(client, "/models/fraud-scorer/production?wait=soon", **reader), production)
    check(get(client, "/models?page=0", **reader), "/models")
    check(get(client, "/models/fraud-scorer/versions?cursor=made-up", **reader), "/models/{name}/versions")
    check(get(client, "/models/fraud-scorer/versions/99", **reader), "/models/{name}/versions/{number}")

    versions = "/models/{name}/versions"
    check(post_json(client, "/models/fraud-scorer/versions", {"artifacts": []}, **writer), versions, "post")
    check(post_json(client, "/models/fraud-scorer/versions", EXAMPLE_REGISTRATION), versions, "post")
    check(
        post_json(client, "/models/fraud-scorer/versions", EXAMPLE_REGISTRATION, **reader), versions, "post"
    )
    check(
        post_json(client, "/models/fraud-scorer/versions", EXAMPLE_REGISTRATION, **stranger), versions, "post"
    )
    check(
        post_json(client, "/models/fraud-scorer/versions", EXAMPLE_REGISTRATION, **locked), versions, "post"
    )

    contract.check_component(
        client.delete(f"{API}/models/fraud-scorer/versions/1", **writer), "MethodNotAllowed"
    )

    # Every documented status except 409 (no route raises a conflict yet) was produced and checked; the
    # lookup's 429 is `locked_out` here (its `too_many_waiting`, five waits at once, is in
    # tests/api/test_production.py), and the edge's answers, 503 among them, are produced in
    # test_machine_edge.py and by a real server in tests/web/. The policy, gate, promotion, archive,
    # rollback, card and evidence operations' answers are produced in test_policy.py, test_gates.py,
    # test_promotions.py, test_rollback.py, test_cards.py and test_evidence_attach.py; the registration
    # from a tracked run and its import's, in tests/tracking/test_run_import_api.py.
    documented = {
        (path, method, int(status))
        for path, item in contract.document["paths"].items()
        if not any(
            part in path
            for part in (
                "/policy",
                "/gate-runs",
                "/promotions",
                "/archive",
                "/rollback",
                "/card",
                "/evidence",
                "/from-run",
                "/import",
            )
        )
        for method, operation in item.items()
        for status in own_statuses(operation)
    }
    assert documented - seen == {
        ("/models/{name}/versions", "post", 409),
    }


def test_the_location_of_a_new_version_is_its_api_url(client, model, contributor):
    response = post_json(client, "/models/fraud-scorer/versions", evidence_payload(), **bearer(contributor))

    server = f"{settings.WAREHOUSE_BASE_URL}/api/v1"
    assert response["Location"] == f"{server}/models/fraud-scorer/versions/2"


@pytest.mark.parametrize(
    "path",
    [
        "/nothing-here",
        "/models/fraud-scorer/",
        "/models/fraud-scorer/versions/v2",
        "/models/fraud-scorer/cards",
    ],
)
def test_an_unknown_api_path_is_a_json_404(client, model, contributor, path):
    for method in ("get", "post"):
        response = getattr(client, method)(f"{API}{path}", **bearer(contributor))
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"


def test_the_contract_check_catches_drift(contract):
    """The checks above would fail on an undocumented field, a missing one, or a wrong type."""
    good = {"count": 0, "count_exact": True, "next": None, "page": 1, "pages": 1, "results": []}
    assert contract.errors("/components/schemas/ModelList", good) == []
    assert contract.errors("/components/schemas/ModelList", {**good, "previous": None})
    assert contract.errors(
        "/components/schemas/ModelList", {key: good[key] for key in ("count", "page", "pages")}
    )
    assert contract.errors("/components/schemas/ModelList", {**good, "page": "1"})
    assert contract.errors("/components/schemas/Error", {"error": {"code": "x", "message": "y", "extra": 1}})
