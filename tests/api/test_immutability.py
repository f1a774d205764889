"""Evidence is immutable through the API: no method changes or removes a version (DESIGN invariant 3)."""

import json

import pytest

from tests.api.support import API, bearer, get, written
from tests.factories import evidence_payload

CHANGES = [
    ("put", "/models/fraud-scorer/versions/1", "GET"),
    ("patch", "/models/fraud-scorer/versions/1", "GET"),
    ("delete", "/models/fraud-scorer/versions/1", "GET"),
    ("put", "/models/fraud-scorer/versions", "GET, POST"),
    ("patch", "/models/fraud-scorer/versions", "GET, POST"),
    ("delete", "/models/fraud-scorer/versions", "GET, POST"),
    ("put", "/models/fraud-scorer", "GET"),
    ("delete", "/models/fraud-scorer", "GET"),
    ("post", "/models/fraud-scorer/production", "GET"),
    ("delete", "/models/fraud-scorer/production", "GET"),
    ("post", "/models/fraud-scorer/versions/1", "GET"),
    ("post", "/models", "GET"),
    ("post", "/openapi.json", "GET"),
]


@pytest.mark.parametrize("who", ["contributor", "superuser"])
@pytest.mark.parametrize(("method", "path", "allow"), CHANGES, ids=[f"{m} {p}" for m, p, _ in CHANGES])
def test_no_method_changes_a_version(client, contract, request, version, who, method, path, allow):
    headers = bearer(request.getfixturevalue(who))
    before_answer = get(client, "/models/fraud-scorer/versions/1", **headers).json()
    before = written()
    change = evidence_payload(
        artifacts=[
            {"name": "model.onnx", "kind": "weights", "uri": "s3://elsewhere/model.onnx", "sha256": "ee" * 32}
        ]
    )

    response = getattr(client, method)(
        f"{API}{path}", data=json.dumps(change), content_type="application/json", **headers
    )

    assert response.status_code == 405
    assert response["Allow"] == allow
    assert contract.check_component(response, "MethodNotAllowed")["error"]["code"] == "method_not_allowed"
    assert written() == before
    assert get(client, "/models/fraud-scorer/versions/1", **headers).json() == before_answer
    assert version.artifacts.get(name="model.onnx").uri == "s3://models/fraud/model.onnx"


def test_405_comes_before_authentication(client, contract, version):
    # The method is wrong whoever asks: say so, rather than ask for credentials that would not help.
    response = client.delete(f"{API}/models/fraud-scorer/versions/1")
    assert response.status_code == 405 and response["Allow"] == "GET"
    contract.check_component(response, "MethodNotAllowed")
