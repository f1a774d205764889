"""The sweeper: queues again what the broker lost, leaves alone what is on its way, gives up on what keeps
dying; and a broker that is down never loses a run, it only delays it."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from tests.factories import version_register_for_tests
from tests.promotions.test_gate_service import broker_unreachable, gate_queue  # noqa: F401 - a fixture
from warehouse import clock
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates import services
from warehouse.promotions.gates.services import (
    SweepReport,
    _claim,
    gate_run_execute,
    gate_run_publish,
    gate_run_start,
    gate_runs_sweep,
)
from warehouse.promotions.models import GateRun, GateState
from warehouse.promotions.tasks import gate_runs_sweep_task
from warehouse.registry.models import Stage

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("gate_queue")


@pytest.fixture
def run(version, contributor) -> GateRun:
    """A pending run whose publish after commit never happened (the test's transaction never commits)."""
    with clock.frozen_at(T0):
        return gate_run_start(actor=contributor, version=version, target_stage=Stage.STAGING)


def state_of(run: GateRun) -> GateRun:
    return GateRun.objects.get(pk=run.pk)


def sweep_at(moment: datetime) -> SweepReport:
    with clock.frozen_at(moment):
        return gate_runs_sweep()


def test_it_queues_a_run_that_was_never_queued(run):
    report = sweep_at(T0 + timedelta(seconds=1))

    assert report == SweepReport(republished=1, given_up=0, publish_failed=0)
    assert state_of(run).enqueued_at == T0 + timedelta(seconds=1)
    assert state_of(run).state == GateState.PENDING


def test_it_queues_again_a_run_queued_long_ago(run, settings):
    with clock.frozen_at(T0):
        assert gate_run_publish(run_id=run.pk)
    later = T0 + timedelta(seconds=settings.GATE_REQUEUE_AFTER_SECONDS + 1)

    report = sweep_at(later)

    assert report.republished == 1
    assert state_of(run).enqueued_at == later


def test_it_leaves_alone_a_run_queued_recently(run, settings):
    with clock.frozen_at(T0):
        assert gate_run_publish(run_id=run.pk)

    report = sweep_at(T0 + timedelta(seconds=settings.GATE_REQUEUE_AFTER_SECONDS - 1))

    assert report == SweepReport(0, 0, 0)
    assert state_of(run).enqueued_at == T0


def test_it_queues_again_a_run_whose_worker_died(run, settings):
    with clock.frozen_at(T0):
        _claim(run.pk)
    expired = T0 + timedelta(seconds=settings.GATE_LEASE_SECONDS + 1)

    report = sweep_at(expired)

    assert report.republished == 1
    assert state_of(run).enqueued_at == expired
    # The next worker to take the message claims it again.
    with clock.frozen_at(expired):
        assert gate_run_execute(run_id=run.pk) == "passed"
    assert state_of(run).attempts == 2


def test_it_leaves_alone_a_run_a_worker_holds(run, settings):
    with clock.frozen_at(T0):
        _claim(run.pk)

    report = sweep_at(T0 + timedelta(seconds=settings.GATE_LEASE_SECONDS - 1))

    assert report == SweepReport(0, 0, 0)
    assert state_of(run).enqueued_at is None


def test_it_leaves_alone_a_finished_run(run):
    gate_run_execute(run_id=run.pk)

    assert sweep_at(T0 + timedelta(days=1)) == SweepReport(0, 0, 0)


def test_it_gives_up_on_a_run_that_used_all_its_attempts(run, settings):
    for attempt in range(settings.GATE_MAX_ATTEMPTS):
        with clock.frozen_at(T0 + timedelta(hours=attempt)):
            assert _claim(run.pk).attempt == attempt + 1
    the_end = T0 + timedelta(hours=settings.GATE_MAX_ATTEMPTS)

    report = sweep_at(the_end)

    assert report == SweepReport(republished=0, given_up=1, publish_failed=0)
    gave_up = state_of(run)
    assert gave_up.state == GateState.ERROR
    assert gave_up.error == (
        f"Gave up after {settings.GATE_MAX_ATTEMPTS} attempts: each time the worker stopped before finishing."
    )
    assert (gave_up.finished_at, gave_up.lease_expires_at) == (the_end, None)
    assert not gave_up.results.exists()
    event = AuditEvent.objects.get(action="gate.finished")
    assert (event.actor, event.target_id, event.model_name) == (None, str(run.version_id), "fraud-scorer")
    assert event.data == {
        "gate_run": run.pk,
        "state": "error",
        "attempts": settings.GATE_MAX_ATTEMPTS,
        "gave_up": True,
    }
    # Given up is final: a late worker and the next sweep leave it alone.
    assert gate_run_execute(run_id=run.pk) is None
    assert sweep_at(the_end + timedelta(hours=1)) == SweepReport(0, 0, 0)


def test_publishing_to_a_broker_that_is_down_returns_false_and_keeps_the_run(run):
    with broker_unreachable():
        assert gate_run_publish(run_id=run.pk) is False

    assert state_of(run).state == GateState.PENDING
    assert state_of(run).enqueued_at is None


def test_a_sweep_with_the_broker_down_keeps_every_run_for_the_next(run, version, contributor, monkeypatch):
    # A second lost run, of a second version.
    other = version_register_for_tests(actor=contributor, model=version.model)
    with clock.frozen_at(T0):
        second = gate_run_start(actor=contributor, version=other, target_stage=Stage.STAGING)
    tries = []
    original = services.gate_run_publish

    def counted(*, run_id):
        tries.append(run_id)
        return original(run_id=run_id)

    monkeypatch.setattr(services, "gate_run_publish", counted)

    with broker_unreachable():
        report = sweep_at(T0 + timedelta(seconds=1))

    # Once the broker refused the oldest, the sweep did not wait on it again for the other.
    assert report == SweepReport(republished=0, given_up=0, publish_failed=2)
    assert tries == [run.pk]
    assert [state_of(r).enqueued_at for r in (run, second)] == [None, None]

    report = sweep_at(T0 + timedelta(seconds=61))

    assert report == SweepReport(republished=2, given_up=0, publish_failed=0)
    assert tries == [run.pk, run.pk, second.pk]
    assert [state_of(r).enqueued_at for r in (run, second)] == [T0 + timedelta(seconds=61)] * 2


def test_a_gate_asked_for_while_the_broker_is_down_runs_once_it_is_back(
    version, contributor, django_capture_on_commit_callbacks
):
    with broker_unreachable(), django_capture_on_commit_callbacks(execute=True):
        run = gate_run_start(actor=contributor, version=version, target_stage=Stage.STAGING)
    assert (state_of(run).state, state_of(run).enqueued_at) == (GateState.PENDING, None)

    assert gate_runs_sweep().republished == 1
    assert state_of(run).enqueued_at is not None
    # What the worker does with the message:
    assert gate_run_execute(run_id=run.pk) == "passed"


def test_the_sweep_command_reports_what_it_did(run):
    out = io.StringIO()

    call_command("sweep_gates", stdout=out)

    assert out.getvalue().strip() == "Re-queued 1, gave up on 0, could not reach the broker for 0."
    assert state_of(run).enqueued_at is not None


def test_the_sweep_task_reports_what_it_did(run):
    assert gate_runs_sweep_task.apply().get() == {"republished": 1, "given_up": 0, "publish_failed": 0}
