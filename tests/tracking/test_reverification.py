"""The gate's artifacts check re-hashes an imported version's files on its tracking server: unchanged files
are verified, a file changed on the server since the import fails the check, and a server that cannot be
read fails it too (it could not be verified), saying why."""

import pytest

from tests.tracking.mlflow_runs import log_tracked_run, overwrite_model_file
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.promotions.models import CheckResult
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.policies.services import policy_in_force
from warehouse.tracking.imports import run_import_execute, version_register_from_run
from warehouse.tracking.models import ImportState, RunImport


@pytest.fixture
def imported_version(configured, tracking_server, model, contributor):
    run = log_tracked_run(tracking_server)
    version = version_register_from_run(
        actor=contributor, model=model, server_name="mlflow-test", run_id=run.run_id, source=run.model_uri
    )
    run_import_execute(import_id=RunImport.objects.get(version=version).pk)
    assert RunImport.objects.get(version=version).state == ImportState.IMPORTED
    version.refresh_from_db()
    policy_in_force(model=model)
    return run, version


def artifacts_check(version, actor) -> CheckResult:
    run = gate_run_start(actor=actor, version=version, target_stage="staging")
    gate_run_execute(run_id=run.pk)
    return CheckResult.objects.get(gate_run=run, check_name=Check.ARTIFACTS)


def test_unchanged_files_are_verified_against_the_server(imported_version, contributor):
    run, version = imported_version

    result = artifacts_check(version, contributor)

    assert result.status == "passed", result.summary
    assert f"{len(run.model_files)} verified against stored files" in result.summary


def test_a_file_changed_on_the_server_since_the_import_fails_the_gate(
    imported_version, tracking_server, contributor
):
    run, version = imported_version
    overwrite_model_file(tracking_server, run, "MLmodel", b"flavors: {}\n")

    result = artifacts_check(version, contributor)

    assert result.status == "failed"
    assert result.summary.startswith("Stored file differs from its digest: MLmodel")
    assert result.numbers["digest_mismatch"] == ["MLmodel"]


def test_a_server_that_cannot_be_read_fails_the_check_saying_why(
    imported_version, interruptible_tracking_server, contributor
):
    _, version = imported_version
    interruptible_tracking_server.stop()

    result = artifacts_check(version, contributor)

    assert result.status == "failed"
    assert "ould not re-read MLmodel (Could not reach the tracking server mlflow-test" in result.summary
