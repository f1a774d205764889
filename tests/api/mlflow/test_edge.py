"""The MLflow endpoints' edge, through Django's test client: MLflow's error shape, status 200 exactly, no
redirects, the query strings and bodies the client sends."""

import json

import pytest

from tests.api.support import bearer
from tests.factories import version_move
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import Stage

MLFLOW = "/api/2.0/mlflow"


def send(client, method: str, path: str, body: dict, **extra):
    return getattr(client, method)(
        f"{MLFLOW}/{path}", data=json.dumps(body), content_type="application/json", **extra
    )


def error_of(response) -> tuple[int, str]:
    assert response["Content-Type"].startswith("application/json")
    document = response.json()
    assert set(document) == {"error_code", "message"}, document
    return response.status_code, document["error_code"]


def test_it_answers_a_model_with_its_versions(client, model, contributor):
    response = client.get(f"{MLFLOW}/registered-models/get", {"name": model.name}, **bearer(contributor))
    assert response.status_code == 200
    answer = response.json()["registered_model"]
    assert answer["name"] == "fraud-scorer"
    assert isinstance(answer["creation_timestamp"], int)
    [latest] = answer["latest_versions"]
    assert latest["version"] == "1"
    assert latest["current_stage"] == "None"
    assert latest["source"] == "s3://models/fraud/model.onnx"
    assert latest["run_id"] == "run-42"
    assert latest["status"] == "READY"


def test_no_credentials_is_unauthenticated(client, model):
    response = client.get(f"{MLFLOW}/registered-models/get", {"name": model.name})
    assert error_of(response) == (401, "UNAUTHENTICATED")


def test_a_wrong_token_is_unauthenticated(client, model):
    response = client.get(
        f"{MLFLOW}/registered-models/get", {"name": model.name}, HTTP_AUTHORIZATION="Bearer wh_0bad_wrong"
    )
    assert error_of(response) == (401, "UNAUTHENTICATED")


def test_basic_auth_takes_a_token_as_the_password(client, model, contributor):
    import base64

    from tests.api.support import issue_token

    issued = issue_token(contributor)
    credentials = base64.b64encode(f"carol:{issued.secret}".encode()).decode()
    response = client.get(
        f"{MLFLOW}/registered-models/get", {"name": model.name}, HTTP_AUTHORIZATION=f"Basic {credentials}"
    )
    assert response.status_code == 200
    someone_else = base64.b64encode(f"victor:{issued.secret}".encode()).decode()
    response = client.get(
        f"{MLFLOW}/registered-models/get", {"name": model.name}, HTTP_AUTHORIZATION=f"Basic {someone_else}"
    )
    assert error_of(response) == (401, "UNAUTHENTICATED")


def test_a_hidden_model_does_not_exist(client, model, outsider):
    response = client.get(f"{MLFLOW}/registered-models/get", {"name": model.name}, **bearer(outsider))
    assert error_of(response) == (404, "RESOURCE_DOES_NOT_EXIST")
    missing = client.get(f"{MLFLOW}/registered-models/get", {"name": "nothing"}, **bearer(outsider))
    assert missing.json()["message"].replace("nothing", "fraud-scorer") == response.json()["message"]


@pytest.mark.parametrize(
    "path",
    ["registered-models/get/", "registered-models/nothing", "models/get", "registered-models/get/x"],
)
def test_an_unknown_path_is_a_json_404_never_a_redirect(client, contributor, path):
    response = client.get(f"{MLFLOW}/{path}", **bearer(contributor))
    assert error_of(response) == (404, "ENDPOINT_NOT_FOUND")


def test_an_unknown_path_of_the_3_0_api_is_mlflows_404(client):
    response = client.get("/api/3.0/mlflow/nothing")
    assert error_of(response) == (404, "ENDPOINT_NOT_FOUND")


def test_server_info(client, contributor):
    response = client.get("/api/3.0/mlflow/server-info", **bearer(contributor))
    assert response.status_code == 200
    assert response.json() == {}


def test_a_wrong_method_is_refused_in_mlflows_shape(client, model, contributor):
    response = client.delete(f"{MLFLOW}/registered-models/get", **bearer(contributor))
    assert error_of(response) == (405, "ENDPOINT_NOT_FOUND")
    assert response["Allow"] == "GET"


def test_a_bad_filter_is_an_invalid_parameter(client, model, contributor):
    response = client.get(
        f"{MLFLOW}/registered-models/search", {"filter": "name = 'x' OR name = 'y'"}, **bearer(contributor)
    )
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")


def test_an_existing_name_already_exists_before_the_permission_is_asked(client, model, viewer):
    response = send(client, "post", "registered-models/create", {"name": model.name}, **bearer(viewer))
    assert error_of(response) == (400, "RESOURCE_ALREADY_EXISTS")


def test_creating_a_model_needs_the_permission(client, db, viewer):
    response = send(client, "post", "registered-models/create", {"name": "new-model"}, **bearer(viewer))
    assert error_of(response) == (403, "PERMISSION_DENIED")
    assert AuditEvent.objects.filter(action="permission.denied").exists()


def test_a_stage_move_is_refused_and_audited(client, version, contributor):
    body = {"name": version.model.name, "version": "1", "stage": "Production"}
    response = send(client, "post", "model-versions/transition-stage", body, **bearer(contributor))
    assert error_of(response) == (403, "PERMISSION_DENIED")
    assert "/models/fraud-scorer/versions/1/promotions/" in response.json()["message"]
    event = AuditEvent.objects.filter(action="permission.denied").latest("sequence")
    assert event.data["attempted"] == "move fraud-scorer/v1 to Production through MLflow"
    assert event.via.startswith("api-token:")
    version.refresh_from_db()
    assert version.stage == Stage.DRAFT


def test_the_production_alias_is_the_production_version(client, version, contributor, superuser):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    response = client.get(
        f"{MLFLOW}/registered-models/alias",
        {"name": "fraud-scorer", "alias": "production"},
        **bearer(contributor),
    )
    assert response.status_code == 200
    answer = response.json()["model_version"]
    assert answer["version"] == "1"
    assert answer["current_stage"] == "Production"
    assert answer["aliases"] == ["production"]


def test_the_database_out_of_reach_is_mlflows_503(client, contributor, model, monkeypatch):
    from django.db import OperationalError

    from warehouse.api.mlflow import model_views

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(model_views, "models_json", unreachable)
    client.raise_request_exception = False
    response = client.get(f"{MLFLOW}/registered-models/get", {"name": model.name}, **bearer(contributor))
    assert error_of(response) == (503, "TEMPORARILY_UNAVAILABLE")
    assert response["Retry-After"]


def test_the_clients_prompt_filter_matches_a_model_without_the_tag(client, model, contributor):
    search = "name ILIKE 'FRAUD-%' AND tag.`mlflow.prompt.is_prompt` != 'true'"
    response = client.get(f"{MLFLOW}/registered-models/search", {"filter": search}, **bearer(contributor))
    assert response.status_code == 200
    assert [found["name"] for found in response.json()["registered_models"]] == ["fraud-scorer"]


def test_prompt_tags_are_refused(client, db, contributor):
    body = {"name": "a-prompt", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}
    response = send(client, "post", "registered-models/create", body, **bearer(contributor))
    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")


# Queries, whatever the number of versions: the token (1) and its last use (1, at most once a minute), the
# model (1), the caller's permissions on it (1); then what is answered.
ALIAS_QUERIES = 2 + 2 + 4  # the production version with its run, its artifacts, its tags, its aliases
MODEL_QUERIES = 2 + 2 + 4 + 2  # the latest versions with artifacts, tags, aliases; the model's tags, aliases


@pytest.mark.parametrize("versions", [1, 4])
def test_the_alias_lookup_and_a_model_read_run_a_fixed_number_of_queries(
    client, model, contributor, superuser, django_assert_max_num_queries, versions
):
    from tests.factories import version_register_for_tests

    for _ in range(versions - 1):
        version_register_for_tests(actor=contributor, model=model)
    version_move(model.versions.get(number=1), Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    credentials = bearer(contributor)
    with django_assert_max_num_queries(ALIAS_QUERIES):
        response = client.get(
            f"{MLFLOW}/registered-models/alias", {"name": model.name, "alias": "production"}, **credentials
        )
    assert response.json()["model_version"]["version"] == "1"
    with django_assert_max_num_queries(MODEL_QUERIES):
        response = client.get(f"{MLFLOW}/registered-models/get", {"name": model.name}, **credentials)
    assert response.status_code == 200


def _server(name: str):
    from warehouse.tracking.models import TrackingServer

    return TrackingServer.objects.create(
        name=name,
        url=f"http://{name}.internal:5000",
        credential_env="UNSET",
        created_at="2026-12-01T00:00:00Z",
    )


def test_a_tracked_source_needs_a_configured_server_to_read_it(client, model, contributor):
    body = {"name": model.name, "source": "models:/m-0123456789abcdef", "run_id": "abc123"}

    response = send(client, "post", "model-versions/create", body, **bearer(contributor))

    assert error_of(response) == (400, "INVALID_PARAMETER_VALUE")
    assert "no tracking server is configured" in response.json()["message"]
    assert model.versions.count() == 1


def test_with_several_servers_a_tracked_source_names_one_in_a_tag(client, model, contributor):
    _server("mlflow-prod"), _server("mlflow-dev")
    body = {"name": model.name, "source": "runs:/abc123/model", "run_id": "abc123"}

    refused = send(client, "post", "model-versions/create", body, **bearer(contributor))
    tagged = send(
        client,
        "post",
        "model-versions/create",
        {**body, "tags": [{"key": "warehouse.tracking_server", "value": "mlflow-dev"}]},
        **bearer(contributor),
    )

    assert error_of(refused) == (400, "INVALID_PARAMETER_VALUE")
    assert "warehouse.tracking_server" in refused.json()["message"]
    assert tagged.status_code == 200, tagged.content
    version = tagged.json()["model_version"]
    assert (version["status"], version["source"]) == ("PENDING_REGISTRATION", "runs:/abc123/model")
    assert "Importing the evidence of run abc123" in version["status_message"]
    assert model.versions.get(number=2).run_import.server.name == "mlflow-dev"
