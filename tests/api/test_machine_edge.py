"""The edge every machine endpoint shares (warehouse/machine_http.py, warehouse/middleware.py): bodies sent
chunked, bodies that are not JSON, paths nothing answers, a server error and the database lost in the middle
of a request, each answered in the JSON envelope the document describes. With real PostgreSQL: the
database is cut off by a trigger that terminates the request's own connection."""

import io
import json

import pytest
from django.db import connection
from django.test import Client

from tests.api.support import API, EDGE_STATUSES, bearer, error_fields, written
from tests.factories import evidence_payload
from tests.incidents.conftest import example_bytes
from warehouse.api.http import MAX_BODY_BYTES
from warehouse.incidents.models import AlertPayload
from warehouse.incidents.services import receiver_create
from warehouse.registry.models import ModelVersion

VERSIONS = "/models/{name}/versions"
REGISTER = f"{API}/models/fraud-scorer/versions"


def chunked(client: Client, path: str, body: bytes, *, decoded_by_server: bool = True, **extra):
    """POST `body` as an app server hands on a chunked request: no Content-Length, the decoded body on
    `wsgi.input`, and, when the server decodes chunked bodies (gunicorn), `wsgi.input_terminated`. A real
    server doing it: tests/web/test_machine_edge_served.py."""
    environ = {
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }
    if decoded_by_server:
        environ["wsgi.input_terminated"] = True
    return client.generic("POST", path, **environ, **extra)


@pytest.fixture
def token(superuser) -> str:
    """The token of the alert receiver `prod-alerts`."""
    return receiver_create(actor=superuser, name="prod-alerts", description="Production Alertmanager")[1]


# --- Bodies ------------------------------------------------------------------------------------------------


def test_a_chunked_registration_is_read_whole(client, contract, model, contributor):
    response = chunked(client, REGISTER, json.dumps(evidence_payload()).encode(), **bearer(contributor))

    assert response.status_code == 201, response.content[:500]
    contract.check(response, VERSIONS, "post")
    assert ModelVersion.objects.filter(model=model).count() == 2


def test_a_chunked_body_the_server_cannot_decode_is_411_and_nothing_is_written(
    client, contract, model, contributor
):
    headers = bearer(contributor)
    before = written()

    response = chunked(
        client, REGISTER, json.dumps(evidence_payload()).encode(), decoded_by_server=False, **headers
    )

    assert response.status_code == 411
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "length_required"
    assert written() == before


def test_a_chunked_body_over_the_limit_is_413(client, contract, model, contributor):
    headers = bearer(contributor)
    before = written()

    response = chunked(client, REGISTER, b" " * (MAX_BODY_BYTES + 1), **headers)

    assert response.status_code == 413
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "too_large"
    assert written() == before


def test_a_chunked_alert_is_received(client, token):
    response = chunked(
        client,
        "/hooks/alertmanager/prod-alerts",
        example_bytes("alertmanager-v4-firing.json"),
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 200, response.content
    assert AlertPayload.objects.count() == 1


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
def test_an_alert_body_not_declared_json_is_415_and_not_stored(client, token, content_type):
    response = client.post(
        "/hooks/alertmanager/prod-alerts",
        data=example_bytes("alertmanager-v4-firing.json"),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not AlertPayload.objects.exists()


# --- Paths nothing answers ----------------------------------------------------------------------------------


ODD_PATHS = [
    "/api/v1/x%0Ay",
    "/api/v1/models/fraud%0A-scorer/versions",
    "/api/v1/models/fraud-scorer/versions/1%0A",
    "/api/v1/%0D%0A",
    "/api/",
    "/api/v2/models",
    "/api/v1/%FF%FE",
    "/hooks/",
    "/hooks/pagerduty/prod-alerts",
    "/hooks/alertmanager/prod%0Aalerts",
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("path", ODD_PATHS)
def test_a_path_nothing_answers_is_a_json_404(client, settings, contributor, path, debug):
    """With DEBUG on too: Django's debug page would list every route."""
    settings.DEBUG = debug

    response = client.get(path, **bearer(contributor))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_a_host_django_refuses_is_a_json_400(client):
    response = client.get(f"{API}/models", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


# --- A server error, and the database out of reach ----------------------------------------------------------


@pytest.fixture
def version_insert_fails():
    """The next registration fails inside PostgreSQL: `how` is "error" (the trigger raises, a server
    error) or "disconnect" (the trigger terminates the request's own connection, as a restart would)."""

    def arm(how: str) -> None:
        action = (
            "PERFORM pg_terminate_backend(pg_backend_pid());"
            if how == "disconnect"
            else "RAISE EXCEPTION 'the registry refuses this row';"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE FUNCTION version_insert_fails() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {action} RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER version_insert_fails BEFORE INSERT ON registry_modelversion "
                "FOR EACH ROW EXECUTE FUNCTION version_insert_fails()"
            )

    yield arm
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS version_insert_fails ON registry_modelversion")
        cursor.execute("DROP FUNCTION IF EXISTS version_insert_fails()")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_lost_mid_request_is_a_503_with_retry_after_and_nothing_is_written(
    contract, model, contributor, version_insert_fails
):
    headers = bearer(contributor)
    before = written()
    version_insert_fails("disconnect")

    response = Client(raise_request_exception=False).post(
        REGISTER, data=json.dumps(evidence_payload()), content_type="application/json", **headers
    )

    assert response.status_code == 503, response.content[:500]
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "database_unavailable"
    assert response["Retry-After"] == "5"
    assert written() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_server_error_is_a_json_500_that_tells_nothing_of_the_code(
    settings, contract, model, contributor, version_insert_fails, debug
):
    settings.DEBUG = debug
    headers = bearer(contributor)
    before = written()
    version_insert_fails("error")

    response = Client(raise_request_exception=False).post(
        REGISTER, data=json.dumps(evidence_payload()), content_type="application/json", **headers
    )

    assert response.status_code == 500, response.content[:500]
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "server_error"
    assert b"Traceback" not in response.content and b"registry_modelversion" not in response.content
    assert written() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_alert_hook_that_loses_the_database_is_a_503(token):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION payload_insert_fails() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER payload_insert_fails BEFORE INSERT ON incidents_alertpayload "
            "FOR EACH ROW EXECUTE FUNCTION payload_insert_fails()"
        )
    try:
        response = Client(raise_request_exception=False).post(
            "/hooks/alertmanager/prod-alerts",
            data=example_bytes("alertmanager-v4-firing.json"),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER payload_insert_fails ON incidents_alertpayload")
            cursor.execute("DROP FUNCTION payload_insert_fails()")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response["Retry-After"] == "5"
    assert not AlertPayload.objects.exists()


def test_every_operation_documents_the_edge_answers(contract):
    for path, item in contract.document["paths"].items():
        for method, operation in item.items():
            edge = {"500", "503"} | ({"411", "413", "415"} if "requestBody" in operation else set())
            assert edge <= set(operation["responses"]), (method, path)
            assert set(operation["responses"]) & EDGE_STATUSES == edge, (method, path)


def test_every_field_named_in_a_refusal_is_a_path_into_the_body(client, model, contributor):
    payload = evidence_payload()
    payload["evaluation"]["metrics"][0]["name"] = "auc\x00"
    payload["card"] = {"sections": {"task\ud800": "x", "limitations": "\udc00"}}

    response = client.post(
        REGISTER,
        data=json.dumps(payload),
        content_type="application/json",
        **bearer(contributor),
    )

    assert response.status_code == 400
    assert error_fields(response) == {
        "evaluation.metrics[0].name": ["Must not contain NUL characters."],
        "card.sections": ["Must be valid Unicode text: it holds a lone surrogate."],
        "card.sections.limitations": ["Must be valid Unicode text: it holds a lone surrogate."],
    }
