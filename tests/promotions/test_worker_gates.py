"""Gates run by real Celery worker processes, on the real broker (Redis in CI, else the filesystem transport).

Nothing is mocked and the product has no test-only path: the worker is `celery -A warehouse worker`, the
gate is asked for as a contributor asks for it, and a worker is killed with SIGKILL in the middle of a run.
What slows that run down enough to be caught is real work: a large file in the warehouse's own artifact
storage whose digest the worker recomputes.
"""

import io
import time

import pytest
from django.core.management import call_command
from django.urls import resolve, reverse

from tests.factories import version_register_for_tests
from tests.promotions.conftest import broker_at
from tests.workers import wait_until
from warehouse import clock
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates.checks import CHECKS
from warehouse.promotions.gates.services import gate_runs_sweep
from warehouse.promotions.gates.snapshot import sha256_of_file
from warehouse.promotions.models import CheckResult, GateRun, GateState
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db(transaction=True)

FINAL_STATES = (GateState.PASSED, GateState.FAILED, GateState.ERROR)
# Nothing listens there: connecting is refused at once, as when the broker is down.
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"
# How long the slowed gate takes to recompute its artifact's digest, and the lease that outlives it.
SLOW_RUN_SECONDS = 3.0
LEASE_SECONDS = 5


def gate_request(client, version, target_stage: str):
    """Ask for a gate as a person does: the button on the version page. Returns the run and the answer."""
    url = reverse("promotions:gate-start", args=[version.model.name, version.number])
    response = client.post(url, {"target_stage": target_stage})
    assert response.status_code == 302, response.content.decode()[:2000]
    match = resolve(response["Location"])
    assert match.url_name == "gate-run", response["Location"]
    return GateRun.objects.get(pk=match.kwargs["run_id"], version=version), response


def finished(run: GateRun, *workers, timeout: float = 60) -> GateRun:
    return wait_until(
        lambda: GateRun.objects.filter(pk=run.pk, state__in=FINAL_STATES).first(),
        timeout=timeout,
        what=f"gate run {run.pk} to finish",
        workers=workers,
    )


def finish_events(run: GateRun) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="gate.finished", data__gate_run=run.pk))


def assert_one_set_of_results(run: GateRun) -> None:
    names = list(
        CheckResult.objects.filter(gate_run=run).order_by("position").values_list("check_name", flat=True)
    )
    assert names == list(CHECKS) and len(names) == 11
    assert run.checks_done == run.checks_total == 11


def report_page(client, run: GateRun) -> str:
    response = client.get(
        reverse("promotions:gate-run", args=[run.version.model.name, run.version.number, run.pk])
    )
    assert response.status_code == 200
    return response.content.decode()


def assert_report_shows(client, run: GateRun) -> None:
    """The gate run page shows the final state and every check with its result, and stops reloading."""
    page = report_page(client, run)
    assert f"state-{run.state}" in page
    assert page.count('id="check-') == 11
    for name in CHECKS:
        assert f'id="check-{name}"' in page
    assert 'http-equiv="refresh"' not in page


def test_a_gate_asked_for_on_the_version_page_is_run_by_a_real_worker(
    client, contributor, version, gate_worker
):
    worker = gate_worker()
    client.force_login(contributor)

    run, _ = gate_request(client, version, Stage.STAGING)
    assert run.requested_by == contributor

    run = finished(run, worker)
    assert run.state == GateState.PASSED, run.error
    assert run.attempts == 1
    assert run.enqueued_at is not None and run.started_at and run.finished_at
    assert run.lease_expires_at is None
    assert_one_set_of_results(run)
    [event] = finish_events(run)
    assert event.via == "worker"
    assert event.data["state"] == "passed" and event.data["attempt"] == 1
    # It was this worker process, through the broker, that ran it.
    worker.wait_for("Task promotions.gate_run_execute[", timeout=10)
    worker.wait_for("succeeded in", timeout=10)
    assert_report_shows(client, run)


@pytest.fixture(scope="module")
def slow_file(tmp_path_factory):
    """A file in an artifact storage folder, large enough that recomputing its digest keeps a gate busy for
    about SLOW_RUN_SECONDS on this machine (measured here, so a slower CI machine gets a smaller file).
    Sparse: it takes no disk space, while hashing it costs the worker what a real file would. Made and
    hashed once for the module's tests; none of them changes it."""
    root = tmp_path_factory.mktemp("slow") / "artifacts"
    path = root / "gates" / "slow-model.bin"
    path.parent.mkdir(parents=True)

    sample = 128 * 1024 * 1024
    with path.open("wb") as handle:
        handle.truncate(sample)
    started = time.monotonic()
    sha256_of_file(path)
    bytes_per_second = sample / (time.monotonic() - started)
    size = int(min(max(bytes_per_second * SLOW_RUN_SECONDS, 256 * 1024**2), 16 * 1024**3)) // 2**20 * 2**20
    with path.open("wb") as handle:
        handle.truncate(size)
    started = time.monotonic()
    digest = sha256_of_file(path)
    seconds = time.monotonic() - started
    yield {
        "root": root,
        "uri": "warehouse://gates/slow-model.bin",
        "sha256": digest,
        "size": size,
        "seconds": seconds,
    }
    path.unlink(missing_ok=True)


@pytest.fixture
def slow_artifact(slow_file, settings):
    """The slow file, in the warehouse's own artifact storage for this test."""
    settings.ARTIFACT_STORAGE_ROOT = slow_file["root"]
    return slow_file


def test_a_gate_survives_its_worker_being_killed_mid_run(
    client, contributor, model, gate_worker, slow_artifact, settings
):
    settings.GATE_LEASE_SECONDS = LEASE_SECONDS
    worker_settings = {"GATE_LEASE_SECONDS": LEASE_SECONDS, "ARTIFACT_STORAGE_ROOT": slow_artifact["root"]}
    candidate = version_register_for_tests(
        actor=contributor,
        model=model,
        artifacts=[
            {
                "name": "model.bin",
                "kind": "weights",
                "uri": slow_artifact["uri"],
                "sha256": slow_artifact["sha256"],
                "size_bytes": slow_artifact["size"],
            }
        ],
    )
    first = gate_worker(**worker_settings)
    client.force_login(contributor)
    run, _ = gate_request(client, candidate, Stage.STAGING)

    running = wait_until(
        lambda: GateRun.objects.filter(pk=run.pk, state=GateState.RUNNING).first(),
        timeout=30,
        what="the first worker to claim the run",
        workers=[first],
    )
    first.kill()
    # Killed mid-run: claimed once, nothing written, the lease still held by a worker that is gone.
    run.refresh_from_db()
    assert (run.state, run.attempts, run.checks_done) == (GateState.RUNNING, 1, 0), (
        f"the run was not caught mid-run (the digest took {slow_artifact['seconds']:.1f} s here)"
    )
    assert not CheckResult.objects.filter(gate_run=run).exists()
    assert run.lease_expires_at == running.lease_expires_at
    # Its page shows it running, stuck at 0 of 11, and keeps reloading itself.
    page = report_page(client, run)
    assert "0 of 11" in page and 'http-equiv="refresh"' in page

    second = gate_worker(**worker_settings)
    # The message went down with the first worker (the filesystem transport had handed it over; Redis holds
    # it unacknowledged until its visibility timeout, an hour): nobody runs the gate until the sweeper does.
    wait_until(
        lambda: GateRun.objects.filter(pk=run.pk, lease_expires_at__lt=clock.now()).exists(),
        timeout=LEASE_SECONDS + 5,
        what="the dead worker's lease to expire",
        workers=[second],
    )
    run.refresh_from_db()
    assert (run.state, run.attempts) == (GateState.RUNNING, 1)

    out = io.StringIO()
    call_command("sweep_gates", stdout=out)
    assert "Re-queued 1," in out.getvalue()

    run = finished(run, second)
    assert run.state == GateState.PASSED, run.error
    assert run.attempts == 2
    assert_one_set_of_results(run)
    [event] = finish_events(run)
    assert event.via == "worker" and event.data["attempt"] == 2
    # The artifact's digest was recomputed, and it matched.
    artifacts = CheckResult.objects.get(gate_run=run, check_name="artifacts")
    assert artifacts.status == "passed", artifacts.summary
    # Nothing is left for the sweeper.
    assert gate_runs_sweep().republished == 0
    assert_report_shows(client, run)


def test_a_gate_asked_for_while_the_broker_is_down_is_kept_and_queued_by_the_sweeper(
    client, contributor, version, gate_worker
):
    worker = gate_worker()
    client.force_login(contributor)

    with broker_at(UNREACHABLE_BROKER):
        started = time.monotonic()
        run, response = gate_request(client, version, Stage.STAGING)
        seconds = time.monotonic() - started
        assert seconds < 5, f"asking for a gate with the broker down took {seconds:.1f} s"
        run.refresh_from_db()
        assert (run.state, run.enqueued_at, run.attempts) == (GateState.PENDING, None, 0)
        # The page it leads to shows the run queued, and reloads itself until it finishes.
        page = client.get(response["Location"]).content.decode()
        assert "state-pending" in page and 'http-equiv="refresh"' in page
        # The sweeper cannot reach it either: it says so and keeps the run.
        report = gate_runs_sweep()
        assert (report.republished, report.publish_failed) == (0, 1)

    # The worker consumed the real broker all along, and nothing reached it.
    time.sleep(1)
    run.refresh_from_db()
    assert (run.state, run.enqueued_at, run.attempts) == (GateState.PENDING, None, 0)

    report = gate_runs_sweep()
    assert (report.republished, report.publish_failed) == (1, 0)
    run = finished(run, worker)
    assert run.state == GateState.PASSED, run.error
    assert run.attempts == 1 and run.enqueued_at is not None
    assert_one_set_of_results(run)
    [event] = finish_events(run)
    assert event.via == "worker"
    assert_report_shows(client, run)


@pytest.fixture
def claims_cut_off():
    """The next `n` claims of a gate run lose their database connection in the middle of the UPDATE, as a
    PostgreSQL restart cuts off a worker: a trigger on the claim (pending → running) terminates its own
    backend. A sequence counts the cut claims: it is not rolled back with the failed statement."""
    from django.db import connection

    def cut(n: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE gate_claims_cut")
            cursor.execute(
                f"""
                CREATE FUNCTION gate_claim_cut() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('gate_claims_cut') <= {int(n)} THEN
                        PERFORM pg_terminate_backend(pg_backend_pid());
                    END IF;
                    RETURN NEW;
                END $$
                """
            )
            cursor.execute(
                "CREATE TRIGGER gate_claim_cut BEFORE UPDATE ON promotions_gaterun FOR EACH ROW "
                "WHEN (OLD.state = 'pending' AND NEW.state = 'running') EXECUTE FUNCTION gate_claim_cut()"
            )

    def claims_seen() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value FROM gate_claims_cut")
            return cursor.fetchone()[0]

    cut.claims_seen = claims_seen
    yield cut
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS gate_claim_cut ON promotions_gaterun")
        cursor.execute("DROP FUNCTION IF EXISTS gate_claim_cut()")
        cursor.execute("DROP SEQUENCE IF EXISTS gate_claims_cut")


@pytest.mark.postgres
def test_a_gate_whose_claim_loses_the_database_is_retried_in_seconds_not_left_for_the_sweeper(
    client, contributor, version, gate_worker, claims_cut_off
):
    # Two claims cut off: the task is sent again after 1 s, then 2 s, and the third claim wins. Without
    # the retry the message would be acknowledged and the run left pending until the sweeper's re-queue
    # (GATE_REQUEUE_AFTER_SECONDS, 10 minutes).
    claims_cut_off(2)
    worker = gate_worker()
    client.force_login(contributor)

    started = time.monotonic()
    run, _ = gate_request(client, version, Stage.STAGING)
    run = finished(run, worker, timeout=30)
    seconds = time.monotonic() - started

    assert run.state == GateState.PASSED, run.error
    assert claims_cut_off.claims_seen() == 3
    # The cut claims wrote nothing: this is the run's first attempt, with one set of results and one event.
    assert run.attempts == 1
    assert_one_set_of_results(run)
    assert len(finish_events(run)) == 1
    assert "Retry in" in worker.log()
    assert seconds < 20, f"the gate took {seconds:.1f} s after two cut claims"
    assert gate_runs_sweep().republished == 0


def test_a_backlog_of_gates_never_delays_the_sweep(
    client, contributor, model, gate_worker, slow_artifact, request
):
    from tests.promotions.conftest import worker_environment
    from tests.workers import WorkerProcess
    from warehouse.promotions.tasks import gate_runs_sweep_task

    worker_settings = {"ARTIFACT_STORAGE_ROOT": slow_artifact["root"]}
    slow = {
        "name": "model.bin",
        "kind": "weights",
        "uri": slow_artifact["uri"],
        "sha256": slow_artifact["sha256"],
        "size_bytes": slow_artifact["size"],
    }
    worker = gate_worker(**worker_settings)
    sweeper = WorkerProcess(
        hostname=f"sweeper-{request.node.name[-8:]}@tests",
        env=worker_environment(**worker_settings),
        args=("-Q", "sweeps"),
    )
    request.node.celery_workers.append(sweeper)
    sweeper.wait_ready(timeout=60)
    assert ".> sweeps " in sweeper.log() and ".> gates " not in sweeper.log()
    client.force_login(contributor)
    # Three slow gates: the one worker is busy with them for about three times SLOW_RUN_SECONDS.
    runs = [
        gate_request(
            client, version_register_for_tests(actor=contributor, model=model, artifacts=[slow]), "staging"
        )[0]
        for _ in range(3)
    ]
    wait_until(
        lambda: GateRun.objects.filter(pk=runs[0].pk, state=GateState.RUNNING).exists(),
        timeout=30,
        what="the worker to start on the backlog",
        workers=[worker],
    )

    gate_runs_sweep_task.delay()
    sweeper.wait_for("Task promotions.gate_runs_sweep[", timeout=10)
    sweeper.wait_for("succeeded in", timeout=10)

    # The sweep ran while the backlog was still waiting for the busy worker.
    assert GateRun.objects.filter(pk__in=[run.pk for run in runs]).exclude(state__in=FINAL_STATES).exists()
    for run in runs:
        assert finished(run, worker).state == GateState.PASSED
