"""Registering a version from a run on a real MLflow tracking server, and importing its evidence: what was
logged is what the version holds, the digests are of the bytes the server stores, and every fault (a wrong
digest from the pipeline, a missing or deleted run, a model over the limit, the server stopped mid-import,
a file changed while it was read) ends in a clear state, with no evidence half-written, on the record.

The worker's service (`run_import_execute`) runs in this process against the real server; the MLflow client
path and the API path run with a real worker process in test_run_import_worker.py, and the API's answers
are checked against its document in test_run_import_api.py.
"""

import threading
import time

import pytest
from django.urls import reverse

from tests.tracking.mlflow_runs import (
    EVALUATION,
    OVERALL_METRICS,
    PROFILE_METRICS,
    delete_run,
    log_tracked_run,
    overwrite_model_file,
)
from warehouse.audit.models import AuditEvent
from warehouse.errors import InvalidInput
from warehouse.registry.models import Artifact, ModelVersion
from warehouse.tracking.imports import run_import_execute, run_import_retry, version_register_from_run
from warehouse.tracking.models import ImportState, RunImport


def register(run, actor, model, *, source=None, expected=None) -> ModelVersion:
    return version_register_from_run(
        actor=actor,
        model=model,
        server_name="mlflow-test",
        run_id=run.run_id,
        source=source or run.model_uri,
        description="Retrained on November's labels.",
        expected_digests=expected,
    )


def imported(version: ModelVersion) -> RunImport:
    run_import = RunImport.objects.get(version=version)
    run_import_execute(import_id=run_import.pk)
    run_import.refresh_from_db()
    version.refresh_from_db()
    return run_import


def actions(version: ModelVersion) -> list[str]:
    events = AuditEvent.objects.filter(target_type="registry.modelversion", target_id=str(version.pk))
    return list(events.order_by("sequence").values_list("action", flat=True))


def test_the_evidence_imported_is_the_evidence_logged(configured, tracked_run, model, contributor):
    version = register(tracked_run, contributor, model)
    assert version.evidence_pending

    run_import = imported(version)

    assert run_import.state == ImportState.IMPORTED, run_import.last_error
    assert not version.evidence_pending
    # Every file of the model, hashed by the warehouse from the bytes the server stores.
    assert {a.name: (a.sha256, a.size_bytes) for a in version.artifacts.all()} == tracked_run.model_files
    kinds = {a.name: a.kind for a in version.artifacts.all()}
    assert kinds["MLmodel"] == "config" and kinds["requirements.txt"] == "environment"
    assert "weights" in kinds.values()
    assert all(a.uri.startswith(tracked_run.model_artifact_uri) for a in version.artifacts.all())
    evaluation = version.evaluation
    assert {m.name: (m.value, m.direction) for m in evaluation.metrics.all()} == {
        "approval_rate": (OVERALL_METRICS["approval_rate"], "higher"),
        "auc": (OVERALL_METRICS["auc"], "higher"),
        "log_loss": (OVERALL_METRICS["log_loss"], "lower"),
    }
    assert (evaluation.dataset, evaluation.dataset_version) == ("loans-eval", "2026-11")
    assert sorted(
        (s.slice_key, s.metric, s.value, s.sample_count) for s in evaluation.slices.all()
    ) == sorted((s["slice"], s["metric"], s["value"], s["sample_count"]) for s in EVALUATION["slices"])
    profile = version.profile
    assert (profile.latency_p50_ms, profile.latency_p95_ms, profile.latency_p99_ms) == (
        PROFILE_METRICS["latency_p50_ms"],
        PROFILE_METRICS["latency_p95_ms"],
        PROFILE_METRICS["latency_p99_ms"],
    )
    assert profile.hardware == "c6i.large" and float(profile.cost_per_1k_predictions) == 0.021
    source_run = version.source_run
    assert (source_run.tracking_system, source_run.run_id, source_run.git_commit) == (
        "mlflow",
        tracked_run.run_id,
        tracked_run.git_commit,
    )
    assert source_run.url == (
        f"{configured.url}/#/experiments/{tracked_run.experiment_id}/runs/{tracked_run.run_id}"
    )
    assert source_run.training_data.startswith(f"loans-train@{tracked_run.dataset_digests['training']}")
    assert actions(version) == [
        "version.registered",
        "version.evidence_import_queued",
        "version.evidence_attached",
        "version.evidence_imported",
    ]
    # Once: a message delivered again does nothing.
    assert run_import_execute(import_id=run_import.pk) is None
    assert Artifact.objects.filter(version=version).count() == len(tracked_run.model_files)


def test_a_logged_model_source_imports_the_same_files(configured, tracked_run, model, contributor):
    version = register(tracked_run, contributor, model, source=tracked_run.logged_model_uri)

    assert imported(version).state == ImportState.IMPORTED
    assert {a.name: (a.sha256, a.size_bytes) for a in version.artifacts.all()} == tracked_run.model_files


def test_metrics_of_unknown_direction_are_left_out_and_said(configured, tracking_server, model, contributor):
    run = log_tracked_run(tracking_server, metrics={"mystery_score": 0.5}, evaluation=None)
    version = register(run, contributor, model)

    run_import = imported(version)

    assert run_import.state == ImportState.IMPORTED
    assert "mystery_score" not in {m.name for m in version.evaluation.metrics.all()}
    assert any("mystery_score" in note and "warehouse.direction." in note for note in run_import.notes)
    assert any("warehouse/evaluation.json" in note for note in run_import.notes)
    assert not version.evaluation.slices.exists()


def test_a_wrong_digest_from_the_pipeline_fails_the_import_with_both_values(
    configured, tracked_run, model, contributor
):
    weights = next(name for name in tracked_run.model_files if name.startswith("model."))
    actual = tracked_run.model_files[weights][0]
    version = register(tracked_run, contributor, model, expected={weights: "0" * 64})

    run_import = imported(version)

    assert run_import.state == ImportState.FAILED
    assert run_import.failure_code == "digest_mismatch"
    assert "0" * 64 in run_import.last_error and actual in run_import.last_error
    assert version.evidence_pending and not version.artifacts.exists()
    failed = AuditEvent.objects.get(action="version.evidence_import_failed")
    assert failed.data["mismatches"] == [{"path": weights, "sent": "0" * 64, "computed": actual}]


def test_the_right_digest_from_the_pipeline_is_accepted(configured, tracked_run, model, contributor):
    weights = next(name for name in tracked_run.model_files if name.startswith("model."))
    version = register(
        tracked_run, contributor, model, expected={weights: tracked_run.model_files[weights][0]}
    )

    assert imported(version).state == ImportState.IMPORTED


def test_a_missing_run_fails_clearly_and_writes_nothing(configured, model, contributor):
    version = version_register_from_run(
        actor=contributor,
        model=model,
        server_name="mlflow-test",
        run_id="0123456789abcdef0123456789abcdef",
        source="runs:/0123456789abcdef0123456789abcdef/model",
    )

    run_import = imported(version)

    assert (run_import.state, run_import.failure_code) == (ImportState.FAILED, "run_not_found")
    assert "does not exist on the tracking server mlflow-test" in run_import.last_error
    assert version.evidence_pending and not version.artifacts.exists()
    assert actions(version)[-1] == "version.evidence_import_failed"


def test_a_deleted_run_fails_and_a_retry_after_its_restoration_imports(
    configured, tracking_server, model, contributor, client
):
    from mlflow import MlflowClient

    run = log_tracked_run(tracking_server)
    delete_run(tracking_server, run.run_id)
    version = register(run, contributor, model)

    run_import = imported(version)
    assert (run_import.state, run_import.failure_code) == (ImportState.FAILED, "run_deleted")

    MlflowClient(tracking_uri=tracking_server.url).restore_run(run.run_id)
    client.force_login(contributor)
    page = reverse("registry:version", args=[model.name, version.number])
    assert "Retry the import" in client.get(page).content.decode()
    response = client.post(reverse("registry:version-import-retry", args=[model.name, version.number]))
    assert response.status_code == 302

    assert imported(version).state == ImportState.IMPORTED
    assert "version.evidence_import_retried" in actions(version)


def test_a_model_over_the_size_limit_is_refused_before_a_byte_is_read(
    configured, tracked_run, model, contributor, settings
):
    settings.IMPORT_MAX_BYTES = 4096
    version = register(tracked_run, contributor, model)

    run_import = imported(version)

    assert (run_import.state, run_import.failure_code) == (ImportState.FAILED, "size_limit")
    assert "over this warehouse's limit of 4,096" in run_import.last_error
    assert run_import.bytes_done == 0


def test_registration_refuses_an_unconfigured_server_and_a_bad_source(configured, model, contributor):
    with pytest.raises(InvalidInput) as refused:
        version_register_from_run(
            actor=contributor, model=model, server_name="elsewhere", run_id="abc", source="runs:/abc/model"
        )
    assert "source_run.tracking_server" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:
        version_register_from_run(
            actor=contributor, model=model, server_name="mlflow-test", run_id="abc", source="runs:/abc/../x"
        )
    assert "source" in refused.value.errors
    assert not RunImport.objects.exists() and model.versions.count() == 1


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _execute_in_background(run_import: RunImport) -> tuple[threading.Thread, list]:
    outcome: list = []

    def work():
        from django.db import connection

        try:
            outcome.append(run_import_execute(import_id=run_import.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def test_a_server_that_is_down_is_retried_and_an_import_down_at_every_attempt_fails_after_the_last(
    configured, interruptible_tracking_server, tracked_run, model, contributor, settings
):
    # One stop of the real server for both imports (a restart costs seconds): `back` finds it down at its
    # first attempt and up at its second; `never` finds it down at both of its two.
    settings.IMPORT_RETRY_BASE_SECONDS, settings.IMPORT_MAX_ATTEMPTS = 0, 2
    back = register(tracked_run, contributor, model)
    never = register(tracked_run, contributor, model)
    interruptible_tracking_server.stop()

    run_import = imported(back)
    assert (run_import.state, run_import.failure_code) == (ImportState.RETRYING, "tracking_unreachable")
    assert "Could not reach the tracking server mlflow-test" in run_import.last_error
    assert imported(never).state == ImportState.RETRYING
    run_import = imported(never)
    assert (run_import.state, run_import.failure_code) == (ImportState.FAILED, "tracking_unreachable")
    assert run_import.last_error.startswith("Gave up after 2 attempts")

    interruptible_tracking_server.start()
    assert imported(back).state == ImportState.IMPORTED
    assert actions(back)[-3:] == [
        "version.evidence_import_deferred",
        "version.evidence_attached",
        "version.evidence_imported",
    ]


@pytest.fixture
def progress_every_chunk(monkeypatch):
    """Progress written after every chunk read, so a test can act at a known point of a download."""
    monkeypatch.setattr("warehouse.tracking.importer.PROGRESS_EVERY_SECONDS", 0)


@pytest.mark.django_db(transaction=True)
def test_a_server_that_hangs_mid_download_is_retried_and_then_imports(
    configured, interruptible_tracking_server, model, contributor, settings, progress_every_chunk
):
    server = interruptible_tracking_server
    settings.IMPORT_RETRY_BASE_SECONDS, settings.IMPORT_TIMEOUT_SECONDS = 0, 2
    run = log_tracked_run(server, big_file_bytes=96 * 1024 * 1024)
    version = register(run, contributor, model)
    run_import = RunImport.objects.get(version=version)

    thread, outcome = _execute_in_background(run_import)
    _wait_for(lambda: RunImport.objects.get(pk=run_import.pk).bytes_done > 0)
    server.pause()
    thread.join(timeout=60)
    server.resume()

    run_import.refresh_from_db()
    assert outcome == [ImportState.RETRYING], run_import.last_error
    assert 0 < run_import.bytes_done < run_import.bytes_total
    assert not Artifact.objects.filter(version=version).exists()
    assert imported(version).state == ImportState.IMPORTED
    assert {a.name: (a.sha256, a.size_bytes) for a in version.artifacts.all()} == run.model_files


@pytest.mark.django_db(transaction=True)
def test_a_file_changed_while_the_model_is_read_fails_the_import(
    configured, tracking_server, model, contributor, progress_every_chunk
):
    run = log_tracked_run(tracking_server, big_file_bytes=96 * 1024 * 1024, big_file_name="zz-weights.bin")
    version = register(run, contributor, model)
    run_import = RunImport.objects.get(version=version)

    thread, outcome = _execute_in_background(run_import)
    # The files are read in path order: MLmodel is done when the big file (last) is being read.
    _wait_for(lambda: RunImport.objects.get(pk=run_import.pk).bytes_done > 1024 * 1024)
    overwrite_model_file(tracking_server, run, "MLmodel", b"changed\n")
    thread.join(timeout=60)

    run_import.refresh_from_db()
    assert outcome == [ImportState.FAILED]
    assert run_import.failure_code == "artifact_changed" and "MLmodel changed" in run_import.last_error
    assert not Artifact.objects.filter(version=version).exists()


def test_the_retry_needs_the_register_permission(configured, model, contributor, viewer):
    version = version_register_from_run(
        actor=contributor, model=model, server_name="mlflow-test", run_id="abc", source="runs:/abc/model"
    )
    imported(version)

    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        run_import_retry(actor=viewer, version=version)
    assert RunImport.objects.get(version=version).state == ImportState.FAILED


def test_the_sweeper_queues_what_the_broker_lost_and_what_a_dead_worker_held(
    configured, tracked_run, model, contributor
):
    from datetime import timedelta

    from warehouse import clock
    from warehouse.tracking.imports import run_imports_sweep

    never_queued = RunImport.objects.get(version=register(tracked_run, contributor, model))
    held = RunImport.objects.get(version=register(tracked_run, contributor, model))
    # A worker claimed it, then died: its lease ran out with nothing recorded.
    RunImport.objects.filter(pk=held.pk).update(
        state=ImportState.IMPORTING, attempts=1, lease_expires_at=clock.now() - timedelta(seconds=1)
    )

    assert run_imports_sweep() == 2
    assert RunImport.objects.get(pk=never_queued.pk).enqueued_at is not None

    # The next worker takes it over from the dead one and finishes it, once.
    assert run_import_execute(import_id=held.pk) == ImportState.IMPORTED
    held.refresh_from_db()
    assert (held.state, held.attempts) == (ImportState.IMPORTED, 2)
    assert run_import_execute(import_id=held.pk) is None
