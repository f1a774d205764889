"""The pipeline's journeys end to end, with a real worker process and a real MLflow tracking server: the
unmodified MLflow client registers a logged model into Warehouse and waits while the warehouse imports its
evidence; the API's registration from a run is imported by the worker without anyone calling it."""

import gc
from pathlib import Path

import pytest

from tests.api.support import issue_token
from tests.tracking.mlflow_runs import files_on_disk, log_tracked_run
from tests.workers import wait_until
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import ModelVersion
from warehouse.tracking.models import ImportState, RunImport

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mlflow_pipeline(live_server, tracking_server, monkeypatch):
    """The MLflow client as a pipeline configures it: runs on the tracking server, models into Warehouse."""
    import mlflow
    from mlflow.utils import request_utils

    for name, value in {
        "MLFLOW_TRACKING_URI": tracking_server.url,
        "MLFLOW_REGISTRY_URI": live_server.url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    }.items():
        monkeypatch.setenv(name, value)
    mlflow.set_tracking_uri(tracking_server.url)
    mlflow.set_registry_uri(live_server.url)
    yield mlflow
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    request_utils._cached_get_request_session.cache_clear()
    gc.collect()


def test_the_mlflow_client_registers_a_logged_model_and_waits_for_its_evidence(
    configured,
    tracking_server,
    mlflow_pipeline,
    gate_worker,
    model,
    contributor,
    monkeypatch,
    tmp_path,
):
    run = log_tracked_run(tracking_server)
    worker = gate_worker()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", issue_token(contributor).secret)

    # The client resolves runs:/<run>/model to the logged model on the tracking server, then waits while
    # the version is PENDING_REGISTRATION: it returns once the warehouse has imported the evidence.
    registered = mlflow_pipeline.register_model(run.model_uri, model.name)

    # register_model hands back the version as created; it returned once a read of it said READY.
    assert (registered.status, registered.source) == ("PENDING_REGISTRATION", f"models:/{run.model_id}")
    now = mlflow_pipeline.MlflowClient().get_model_version(model.name, registered.version)
    assert (now.status, now.source, now.run_id) == ("READY", f"models:/{run.model_id}", run.run_id)
    version = ModelVersion.objects.get(model=model, number=int(registered.version))
    assert not version.evidence_pending
    assert {a.name: (a.sha256, a.size_bytes) for a in version.artifacts.all()} == run.model_files
    assert version.source_run.run_id == run.run_id
    imported = AuditEvent.objects.get(action="version.evidence_imported", target_id=str(version.pk))
    assert imported.via == "worker" and imported.data["files"] == len(run.model_files)
    worker.wait_for("Task tracking.run_import_execute[", timeout=10)
    # Loading it back: Warehouse names the model's directory on the tracking server, and the client
    # downloads the very bytes Warehouse hashed from there.
    downloaded = mlflow_pipeline.artifacts.download_artifacts(
        f"models:/{model.name}/{registered.version}", dst_path=str(tmp_path / "loaded")
    )
    loaded = files_on_disk(Path(downloaded))
    loaded.pop("registered_model_meta", None)  # written by the client itself, beside what it downloaded
    assert loaded == run.model_files


def test_a_version_registered_through_the_api_is_imported_by_the_worker(
    configured,
    tracked_run,
    gate_worker,
    model,
    contributor,
    client,
):
    worker = gate_worker()
    body = {
        "source_run": {
            "tracking_system": "mlflow",
            "tracking_server": "mlflow-test",
            "run_id": tracked_run.run_id,
        }
    }
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(contributor).secret}"}

    response = client.post(
        f"/api/v1/models/{model.name}/versions/from-run", body, content_type="application/json", **headers
    )

    assert response.status_code == 201, response.content
    run_import = RunImport.objects.get(version__model=model, version__number=response.json()["version"])
    wait_until(
        lambda: RunImport.objects.get(pk=run_import.pk).state == ImportState.IMPORTED,
        timeout=60,
        what="the import to finish",
        workers=[worker],
    )
    answer = client.get(f"/api/v1/models/{model.name}/versions/{response.json()['version']}", **headers)
    assert answer.json()["evidence"] == "attached"
