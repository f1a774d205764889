"""The demo model whose versions come from tracked MLflow runs (late-delivery-risk): trained and logged for
real to a tracking server by `manage.py demo_tracked_runs` and imported by the worker's service, or, without
one, loaded by `seed_demo` as those runs were recorded, with the same full evidence."""

import io

import pytest
from django.core.management import CommandError, call_command

from warehouse.audit.models import AuditEvent
from warehouse.demo.evidence import value
from warehouse.demo.files import tracked_model
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.tracking.imports import run_import_execute
from warehouse.tracking.models import ImportState, RunImport, TrackingServer

MODEL = "late-delivery-risk"


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.fixture
def local_server(tracking_server, db) -> TrackingServer:
    """The tracking server as `make run` configures its local one."""
    return TrackingServer.objects.create(
        name="mlflow-local",
        url=tracking_server.url,
        credential_env="WAREHOUSE_TRACKING_TOKEN_MLFLOW_LOCAL",
        created_at="2026-12-01T00:00:00Z",
    )


def command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def runs_logged(tracking_server) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_server.url)
    experiment = client.get_experiment_by_name(tracked_model()["tracked_runs"]["experiment"])
    return client.search_runs([experiment.experiment_id]) if experiment else []


def evidence_of(version: ModelVersion) -> dict:
    evaluation = version.evaluation
    return {
        "metrics": {m.name: (m.value, m.direction) for m in evaluation.metrics.all()},
        "slices": {(s.slice_key, s.metric): s.value for s in evaluation.slices.all()},
        "dataset": evaluation.dataset,
        "p95": version.profile.latency_p95_ms,
        "hardware": version.profile.hardware,
        "git_commit": version.source_run.git_commit,
        "files": {a.name: a.kind for a in version.artifacts.all()},
    }


def test_the_command_logs_runs_and_registers_versions_whose_imports_succeed(
    debug, local_server, tracking_server
):
    command("seed_demo", "--no-recorded-runs")
    assert not RegisteredModel.objects.filter(name=MODEL).exists()
    runs_before = len(runs_logged(tracking_server))

    output = command("demo_tracked_runs")

    assert f"Registered {MODEL}/v1 from run" in output and f"Registered {MODEL}/v2 from run" in output
    logged = runs_logged(tracking_server)
    assert len(logged) == runs_before + 2
    model = RegisteredModel.objects.get(name=MODEL)
    assert model.team.name == "logistics"
    assert "Imported from tracked MLflow runs on the local tracking server mlflow-local." in model.description
    versions = list(model.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert all(v.evidence_pending and v.registered_by.username == "contributor" for v in versions)
    imports = RunImport.objects.filter(version__model=model).order_by("version__number")
    assert {i.run_id for i in imports} <= {run.info.run_id for run in logged}
    assert all(i.server == local_server and i.state == ImportState.QUEUED for i in imports)

    # What the worker runs for each: the evidence comes from the server, read and hashed by the warehouse.
    for run_import in imports:
        assert run_import_execute(import_id=run_import.pk) == ImportState.IMPORTED

    plan = tracked_model()["tracked_runs"]
    first, second = (ModelVersion.objects.get(pk=v.pk) for v in versions)
    for version in (first, second):
        evidence = evidence_of(version)
        assert not version.evidence_pending
        assert set(evidence["metrics"]) == {"auc", "log_loss", "brier", "calibration_error"}
        assert evidence["metrics"]["calibration_error"][1] == "lower"
        assert len({key for key, _ in evidence["slices"]}) == 20
        assert evidence["dataset"] == "deliveries-holdout"
        assert evidence["p95"] == plan["versions"][version.number]["profile"]["latency_p95_ms"]
        assert evidence["git_commit"] == value(
            plan["versions"][version.number]["git_commit"], {"number": version.number}
        )
        assert evidence["files"]["model.skops"] == "weights" and evidence["files"]["MLmodel"] == "config"
        assert version.source_run.url.startswith(f"{tracking_server.url}/#/experiments/")
        assert version.source_run.training_data.startswith("deliveries-train@")
        assert version.card.current.sections["task"].startswith("Predicts, when a parcel is dispatched")
    # v2, retrained with more data and features, is the better model.
    assert evidence_of(second)["metrics"]["auc"][0] > evidence_of(first)["metrics"]["auc"][0]
    assert "Audit chain intact" in command("verify_audit")

    # Once: a second run logs nothing and registers nothing.
    assert "nothing to do" in command("demo_tracked_runs")
    assert len(runs_logged(tracking_server)) == runs_before + 2
    assert model.versions.count() == 2


def test_the_recording_is_what_the_runs_hold(debug, local_server):
    """The recorded fallback holds what a live run imports: the same metrics, slices and profile, and numbers
    within a rounding of a library's version."""
    command("seed_demo", "--no-recorded-runs")
    command("demo_tracked_runs")
    for run_import in RunImport.objects.filter(version__model__name=MODEL):
        run_import_execute(import_id=run_import.pk)
    recorded = tracked_model()["recorded_runs"]

    for version in ModelVersion.objects.filter(model__name=MODEL):
        live = evidence_of(version)
        record = recorded[version.number]
        assert {m["name"]: m["direction"] for m in record["evaluation"]["metrics"]} == {
            name: direction for name, (_, direction) in live["metrics"].items()
        }
        for metric in record["evaluation"]["metrics"]:
            assert live["metrics"][metric["name"]][0] == pytest.approx(metric["value"], abs=0.02)
        assert {(s["slice"], s["metric"]) for s in record["evaluation"]["slices"]} == set(live["slices"])
        assert record["profile"]["latency_p95_ms"] == live["p95"]
        assert record["source_run"]["git_commit"] == live["git_commit"]
        assert {a["name"]: a["kind"] for a in record["artifacts"]} == live["files"]


def test_without_a_tracking_server_the_recorded_runs_load_with_full_evidence(db, debug):
    command("seed_demo")

    model = RegisteredModel.objects.get(name=MODEL)
    assert model.description.endswith("Imported from tracked MLflow runs (recorded).")
    recorded = tracked_model()["recorded_runs"]
    versions = list(model.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert not RunImport.objects.filter(version__model=model).exists()
    for version in versions:
        record = recorded[version.number]
        assert not version.evidence_pending
        assert version.description == tracked_model()["tracked_runs"]["versions"][version.number]["notes"]
        source_run = version.source_run
        assert (source_run.tracking_system, source_run.run_id, source_run.git_commit) == (
            "mlflow",
            record["source_run"]["run_id"],
            record["source_run"]["git_commit"],
        )
        assert {a.name: (a.uri, a.sha256, a.size_bytes) for a in version.artifacts.all()} == {
            a["name"]: (a["uri"], a["sha256"], a["size_bytes"]) for a in record["artifacts"]
        }
        evidence = evidence_of(version)
        assert evidence["metrics"] == {
            m["name"]: (m["value"], m["direction"]) for m in record["evaluation"]["metrics"]
        }
        assert evidence["slices"] == {
            (s["slice"], s["metric"]): s["value"] for s in record["evaluation"]["slices"]
        }
        assert len({key for key, _ in evidence["slices"]}) == 20
        assert evidence["p95"] == record["profile"]["latency_p95_ms"]
        assert (
            "Imported from tracked MLflow runs (recorded)." in version.card.current.sections["data_summary"]
        )
    assert AuditEvent.objects.filter(action="version.registered", model_name=MODEL).count() == 2

    # Recorded once, recorded for good: the live runs do not add to it.
    with pytest.raises(CommandError, match="holds the recorded runs already"):
        command("demo_tracked_runs")
    assert model.versions.count() == 2
