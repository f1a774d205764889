"""The machine edge on the production tier, for real (nginx in front of gunicorn, on the test database):
chunked bodies through the proxy and straight to the app server, paths with a newline, and every kind of
endpoint answering the documented 503 with Retry-After when PostgreSQL cannot be reached."""

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.api.support import issue_token
from tests.factories import evidence_payload
from tests.incidents.conftest import example_bytes
from tests.web.test_serving_faults import WITHOUT_DATABASE
from tests.web.test_slow_clients import TIER
from warehouse.incidents.models import AlertPayload
from warehouse.incidents.services import receiver_create
from warehouse.registry.models import ModelVersion

pytestmark = [pytest.mark.webtier, pytest.mark.postgres]

VERSIONS = "/api/v1/models/fraud-scorer/versions"


def send(base: str, host: str, method: str, path: str, *, body=None, chunked=False, headers=None):
    """One request with http.client, which sends an iterable body chunked; (status, headers, JSON body)."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        all_headers = {"Host": host, **(headers or {})}
        if chunked:
            pieces = [body[index : index + 1000] for index in range(0, len(body), 1000)]
            connection.request(method, path, body=iter(pieces), headers=all_headers, encode_chunked=True)
        else:
            connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, response, json.loads(raw) if raw else {}
    finally:
        connection.close()


def test_chunked_bodies_and_odd_paths_through_the_proxy_and_straight_to_the_app_server(
    shared_web_tier, model, contributor, superuser
):
    tier = shared_web_tier(**TIER)
    token = issue_token(contributor).secret
    _, alert_token = receiver_create(actor=superuser, name="prod-alerts", description="Alertmanager")
    registration = json.dumps(evidence_payload()).encode()
    as_json = {"Content-Type": "application/json"}

    for base in (tier.url, tier.web_url):  # through nginx, which de-chunks; to gunicorn, which hands it on
        status, _, body = send(
            base,
            tier.host,
            "POST",
            "/api/v1/models/fraud-scorer/versions",
            body=registration,
            chunked=True,
            headers={**as_json, "Authorization": f"Bearer {token}"},
        )
        assert status == 201, body
        status, _, body = send(
            base,
            tier.host,
            "POST",
            "/hooks/alertmanager/prod-alerts",
            body=example_bytes("alertmanager-v4-firing.json"),
            chunked=True,
            headers={**as_json, "Authorization": f"Bearer {alert_token}"},
        )
        assert status == 200, body
        for path in ("/api/v1/x%0Ay", "/api/v1/models/fraud%0Ascorer", "/hooks/x%0Ay"):
            status, response, body = send(
                base, tier.host, "GET", path, headers={"Authorization": f"Bearer {token}"}
            )
            assert (status, response.getheader("Content-Type")) == (404, "application/json"), (path, body)
            assert body["error"]["code"] == "not_found"

    assert ModelVersion.objects.filter(model=model).count() == 3
    assert AlertPayload.objects.count() == 2


def test_with_the_database_unreachable_every_machine_endpoint_answers_503_json(shared_web_tier, contract):
    tier = shared_web_tier(**WITHOUT_DATABASE)
    api_token, alert_token = "wh_0123abcd_" + "x" * 43, "whr_" + "x" * 43
    registration = json.dumps(evidence_payload()).encode()
    alert = example_bytes("alertmanager-v4-firing.json")
    calls = [  # method, path, body, token, the operation in the document (None: not in it)
        ("GET", "/api/v1/models", None, api_token, ("/models", "get")),
        ("POST", VERSIONS, registration, api_token, ("/models/{name}/versions", "post")),
        ("GET", f"{VERSIONS}/1/card", None, api_token, ("/models/{name}/versions/{number}/card", "get")),
        ("POST", "/hooks/alertmanager/prod-alerts", alert, alert_token, None),
    ]

    for method, path, body, token, documented in calls:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        status, response, answer = send(tier.url, tier.host, method, path, body=body, headers=headers)

        assert status == 503, (path, answer)
        assert response.getheader("Content-Type") == "application/json"
        assert answer["error"]["code"] == "database_unavailable"
        assert response.getheader("Retry-After") == "5"
        if documented:
            operation, operation_method = documented
            answer_schema = f"/paths/{operation.replace('/', '~1')}/{operation_method}/responses/503"
            assert contract.errors(f"{answer_schema}/content/application~1json/schema", answer) == [], path
