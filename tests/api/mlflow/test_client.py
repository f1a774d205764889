"""The unmodified MLflow client, pointed at Warehouse: reads and metadata work unchanged, and no MLflow
call can move a stage."""

import pytest

from tests.factories import version_move, version_register_for_tests
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import Stage

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402


@pytest.fixture
def in_production(model, contributor, superuser):
    """fraud-scorer: v1 in Production, v2 in Staging, v3 a Draft."""
    v1 = model.versions.get(number=1)
    version_move(v1, Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    v2 = version_register_for_tests(actor=contributor, model=model)
    version_move(v2, Stage.STAGING, actor=superuser)
    version_register_for_tests(actor=contributor, model=model)
    return model


def error_code(raised) -> str:
    return raised.value.error_code


def test_models_are_created_read_described_and_tagged(mlflow_as, contributor, team):
    client = mlflow_as(contributor)
    created = client.create_registered_model("churn", tags={"team": "growth"}, description="Who leaves.")
    assert created.name == "churn"
    client.set_registered_model_tag("churn", "owner", "carol")
    client.update_registered_model("churn", description="Who leaves, and when.")
    model = client.get_registered_model("churn")
    assert model.tags == {"team": "growth", "owner": "carol"}
    assert model.description == "Who leaves, and when."
    client.delete_registered_model_tag("churn", "team")
    assert client.get_registered_model("churn").tags == {"owner": "carol"}
    assert AuditEvent.objects.filter(action="model.tag_set", model_name="churn").exists()
    assert AuditEvent.objects.filter(action="model.description_changed", model_name="churn").exists()
    with pytest.raises(MlflowException) as raised:
        client.create_registered_model("churn")
    assert error_code(raised) == "RESOURCE_ALREADY_EXISTS"


def test_models_are_searched_with_filters_and_pages(mlflow_as, contributor):
    client = mlflow_as(contributor)
    for name in ("fraud-a", "fraud-b", "fraud-c", "churn"):
        client.create_registered_model(name, tags={"kind": "fraud" if name.startswith("fraud") else "churn"})
    found = client.search_registered_models(filter_string="name LIKE 'fraud-%'")
    assert [model.name for model in found] == ["fraud-a", "fraud-b", "fraud-c"]
    tagged = client.search_registered_models(filter_string="tags.`kind` = 'churn'")
    assert [model.name for model in tagged] == ["churn"]
    first = client.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [model.name for model in first] == ["fraud-c", "fraud-b"]
    second = client.search_registered_models(max_results=2, order_by=["name DESC"], page_token=first.token)
    assert [model.name for model in second] == ["fraud-a", "churn"]
    assert not second.token
    with pytest.raises(MlflowException) as raised:
        client.search_registered_models(filter_string="name = 'x' OR name = 'y'")
    assert error_code(raised) == "INVALID_PARAMETER_VALUE"


def test_versions_are_read_searched_described_and_tagged(mlflow_as, in_production, contributor):
    client = mlflow_as(contributor)
    version = client.get_model_version("fraud-scorer", "2")
    assert (version.version, version.current_stage, version.status) == ("2", "Staging", "READY")
    assert version.source == "s3://models/fraud/model.onnx"
    client.set_model_version_tag("fraud-scorer", "2", "validated", "yes")
    client.update_model_version("fraud-scorer", "2", description="Retrained on November data.")
    again = client.get_model_version("fraud-scorer", "2")
    assert again.tags == {"validated": "yes"}
    assert again.description == "Retrained on November data."
    found = client.search_model_versions("name = 'fraud-scorer' AND tags.validated = 'yes'")
    assert [v.version for v in found] == ["2"]
    by_run = client.search_model_versions("run_id IN ('run-42', 'other') AND version_number > 1")
    assert sorted(v.version for v in by_run) == ["2", "3"]
    client.delete_model_version_tag("fraud-scorer", "2", "validated")
    assert client.get_model_version("fraud-scorer", "2").tags == {}
    assert client.get_model_version_download_uri("fraud-scorer", "1") == "s3://models/fraud/model.onnx"


def test_the_production_alias_and_the_latest_versions_are_the_real_stages(mlflow_as, in_production, viewer):
    client = mlflow_as(viewer)
    production = client.get_model_version_by_alias("fraud-scorer", "production")
    assert (production.version, production.current_stage) == ("1", "Production")
    assert client.get_model_version_by_alias("fraud-scorer", "staging").version == "2"
    latest = client.get_latest_versions("fraud-scorer", stages=["Production"])
    assert [v.version for v in latest] == ["1"]
    every = {v.current_stage: v.version for v in client.get_latest_versions("fraud-scorer")}
    assert every == {"Production": "1", "Staging": "2", "None": "3"}
    model = client.get_registered_model("fraud-scorer")
    assert model.aliases == {"production": "1", "staging": "2"}


def test_free_form_aliases_are_kept_and_audited(mlflow_as, in_production, contributor):
    client = mlflow_as(contributor)
    client.set_registered_model_alias("fraud-scorer", "champion", "3")
    assert client.get_model_version_by_alias("fraud-scorer", "champion").version == "3"
    assert client.get_model_version("fraud-scorer", "3").aliases == ["champion"]
    client.delete_registered_model_alias("fraud-scorer", "champion")
    with pytest.raises(MlflowException) as raised:
        client.get_model_version_by_alias("fraud-scorer", "champion")
    assert error_code(raised) == "RESOURCE_DOES_NOT_EXIST"
    assert AuditEvent.objects.filter(action="model.alias_set", model_name="fraud-scorer").exists()


@pytest.mark.parametrize(
    "attempt",
    [
        lambda client: client.set_registered_model_alias("fraud-scorer", "production", "3"),
        lambda client: client.set_registered_model_alias("fraud-scorer", "Staging", "3"),
        lambda client: client.delete_registered_model_alias("fraud-scorer", "production"),
        lambda client: client.transition_model_version_stage("fraud-scorer", "3", "Production"),
        lambda client: client.delete_model_version("fraud-scorer", "3"),
        lambda client: client.delete_registered_model("fraud-scorer"),
        lambda client: client.rename_registered_model("fraud-scorer", "fraud-scorer-2"),
    ],
    ids=["alias-production", "alias-staging", "unalias", "transition", "delete-version", "delete", "rename"],
)
def test_governed_moves_are_refused_and_audited(mlflow_as, in_production, superuser, attempt):
    client = mlflow_as(superuser)  # even a superuser: stages move through the gate, never through MLflow
    before = AuditEvent.objects.filter(action="permission.denied").count()
    with pytest.raises(MlflowException) as raised:
        attempt(client)
    assert error_code(raised) == "PERMISSION_DENIED"
    assert AuditEvent.objects.filter(action="permission.denied").count() == before + 1
    stages = dict(in_production.versions.values_list("number", "stage"))
    assert stages == {1: Stage.PRODUCTION, 2: Stage.STAGING, 3: Stage.DRAFT}
    assert client.get_model_version_by_alias("fraud-scorer", "production").version == "1"


def test_a_model_the_caller_may_not_see_does_not_exist(mlflow_as, in_production, outsider):
    client = mlflow_as(outsider)
    with pytest.raises(MlflowException) as raised:
        client.get_model_version_by_alias("fraud-scorer", "production")
    assert error_code(raised) == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_registered_models() == []


def test_without_a_token_the_client_is_unauthenticated(mlflow_as, in_production):
    client = mlflow_as(None)
    with pytest.raises(MlflowException) as raised:
        client.get_registered_model("fraud-scorer")
    assert error_code(raised) == "UNAUTHENTICATED"


def test_register_model_registers_a_draft_whose_evidence_is_pending(mlflow_as, model, contributor, team):
    # The model exists: register_model goes on past RESOURCE_ALREADY_EXISTS and creates the version.
    mlflow_as(contributor)
    registered = mlflow.register_model(
        "s3://bucket/fraud/model", "fraud-scorer", tags={"pipeline": "nightly", "owner": "risk"}
    )

    assert (registered.name, registered.version, registered.status) == ("fraud-scorer", "2", "READY")
    assert registered.current_stage == "None"
    assert registered.source == "s3://bucket/fraud/model"
    version = model.versions.get(number=2)
    assert version.stage == Stage.DRAFT and version.evidence_pending
    client = mlflow_as(contributor)
    read = client.get_model_version("fraud-scorer", "2")
    assert read.tags == {"pipeline": "nightly", "owner": "risk"}
    assert client.get_model_version_download_uri("fraud-scorer", "2") == "s3://bucket/fraud/model"
    registered_event = AuditEvent.objects.get(action="version.registered", target_label="fraud-scorer/v2")
    assert (registered_event.actor, registered_event.data["evidence"]) == (contributor, "pending")

    # A new model too: created first, then its first version.
    created = mlflow.register_model("gs://bucket/churn/model", "churn-predictor")
    assert (created.name, created.version) == ("churn-predictor", "1")


def test_a_version_registered_through_mlflow_cannot_move_until_its_evidence_is_attached(
    mlflow_as, model, contributor
):
    mlflow_as(contributor)
    mlflow.register_model("s3://bucket/fraud/model", "fraud-scorer")
    with pytest.raises(MlflowException) as raised:
        mlflow_as(contributor).transition_model_version_stage("fraud-scorer", "2", "Staging")
    assert error_code(raised) == "PERMISSION_DENIED"
    assert model.versions.get(number=2).stage == Stage.DRAFT


def test_a_source_warehouse_does_not_accept_is_invalid_and_nothing_is_registered(
    mlflow_as, model, contributor
):
    mlflow_as(contributor)
    with pytest.raises(MlflowException) as raised:
        mlflow.register_model("file:///etc/passwd", "fraud-scorer")
    assert error_code(raised) == "INVALID_PARAMETER_VALUE"
    assert model.versions.count() == 1
