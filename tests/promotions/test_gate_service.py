"""Gate runs on the real database: asked for by people allowed to, queued after commit, claimed by one worker
at a time, and finished with every result and the final state in one transaction."""

import contextlib
import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from tests.factories import version_move, version_register_for_tests
from tests.promotions.conftest import broker_at, queues_purge
from tests.registry.test_concurrency import at_once
from warehouse import clock
from warehouse.audit.models import AuditEvent
from warehouse.celery import app as celery_app
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.gates import checks
from warehouse.promotions.gates.checks import CHECKS, CheckOutcome, check_run
from warehouse.promotions.gates.services import _claim, _finish, gate_run_execute, gate_run_start
from warehouse.promotions.gates.snapshot import snapshot_load
from warehouse.promotions.models import CheckResult, GateRun, GateState
from warehouse.promotions.policies.rules import DEFAULT_RULES, Check
from warehouse.promotions.policies.services import policy_in_force, policy_revise
from warehouse.promotions.tasks import gate_run_execute_task
from warehouse.registry.models import Stage

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
GATE_QUEUE = "gates"


# --- broker helpers, shared with the sweeper tests ------------------------------------------------------

# Nothing listens on port 1 of the loopback address: connections are refused at once (a broker down).
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@contextlib.contextmanager
def broker_unreachable() -> Iterator[str]:
    """Publish to a broker that refuses connections until the block ends, then to the configured one again.

    `broker_at` (tests/promotions/conftest.py) sets the URL in the environment, where Celery looks first, and
    in the app's configuration, and drops the app's cached connection and producer pools on the way in and
    out, so the next publish really connects to the URL in force.
    """
    with broker_at(UNREACHABLE_BROKER):
        connection = celery_app.connection_for_write()
        assert (connection.transport_cls, connection.hostname, connection.port) == ("redis", "127.0.0.1", 1)
        yield UNREACHABLE_BROKER


@pytest.fixture
def broker_down():
    with broker_unreachable() as url:
        yield url


@pytest.fixture
def gate_queue():
    """Publishes for real, to whatever broker the environment configures; empties the queues after, so no
    message of this test is left for a worker started later in the run."""
    yield GATE_QUEUE
    queues_purge()


# --- helpers --------------------------------------------------------------------------------------------


@pytest.fixture
def staged(version, contributor):
    """The fixture version in Staging, ready to be gated for Production."""
    return version_move(version, Stage.STAGING, actor=contributor)


@pytest.fixture
def in_production(model, contributor):
    """Another version of the model in Production: the baseline of every gate."""
    other = version_register_for_tests(actor=contributor, model=model)
    return version_move(other, Stage.STAGING, Stage.PRODUCTION, actor=contributor)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def started(actor, version, target=Stage.STAGING) -> GateRun:
    return gate_run_start(actor=actor, version=version, target_stage=target)


# --- starting -------------------------------------------------------------------------------------------


def test_it_writes_a_pending_run_with_the_policy_revision_in_force(version, contributor):
    with clock.frozen_at(T0):
        run = started(contributor, version)

    run.refresh_from_db()
    assert run.state == GateState.PENDING
    assert run.target_stage == Stage.STAGING
    assert run.policy_revision == policy_in_force(model=version.model)
    assert (run.requested_by, run.requested_at) == (contributor, T0)
    assert (run.attempts, run.enqueued_at, run.started_at, run.finished_at) == (0, None, None, None)
    assert (run.checks_done, run.checks_total) == (0, len(Check.ALL))
    [event] = events("gate.requested")
    assert event.actor == contributor
    assert event.data == {
        "gate_run": run.pk,
        "target_stage": "staging",
        "policy_revision": run.policy_revision_id,
    }


def test_it_records_the_models_own_policy_revision(model, version, contributor, policy_admin):
    data = copy.deepcopy(DEFAULT_RULES.as_data())
    revision = policy_revise(actor=policy_admin, model=model, rules_data=data, reason="Our own.")

    run = started(contributor, version)

    assert run.policy_revision == revision


def test_a_policy_edited_while_the_run_waited_is_the_one_it_applies(
    model, version, contributor, policy_admin
):
    run = started(contributor, version)
    data = copy.deepcopy(DEFAULT_RULES.as_data())
    data["draft_to_staging"]["metric_bars"] = [{"metric": "auc", "op": ">=", "value": 0.99}]
    data["draft_to_staging"]["required_checks"] = ["metric_bars"]
    edited = policy_revise(actor=policy_admin, model=model, rules_data=data, reason="Raise the bar.")

    state = gate_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (state, run.policy_revision) == ("failed", edited)


def test_a_worker_making_progress_keeps_its_lease(version, contributor, settings, monkeypatch):
    settings.GATE_LEASE_SECONDS = 60
    run = started(contributor, version)
    ticks = iter(T0 + timedelta(minutes=minute) for minute in range(1000))
    monkeypatch.setattr(clock, "now", lambda: next(ticks))  # every reading of the clock is a minute later
    seen = []
    original = checks.CHECKS[Check.OWNER]

    def watching(snapshot):
        seen.append(GateRun.objects.values_list("started_at", "lease_expires_at").get(pk=run.pk))
        return original(snapshot)

    monkeypatch.setitem(checks.CHECKS, Check.OWNER, watching)
    gate_run_execute(run_id=run.pk)

    [(claimed_at, lease_then)] = seen
    # A one-minute lease from the claim would have run out long before the ninth check; it was renewed.
    assert lease_then > claimed_at + timedelta(minutes=5)


def test_a_viewer_cannot_ask_for_a_gate(version, viewer):
    with pytest.raises(PermissionDenied):
        started(viewer, version)

    assert not GateRun.objects.exists()
    [event] = events("permission.denied")
    assert event.actor == viewer
    assert event.data["permission"] == "registry.request_promotion"


def test_an_outsider_cannot_ask_for_a_gate(version, outsider):
    with pytest.raises(PermissionDenied):
        started(outsider, version)

    assert not GateRun.objects.exists()
    assert len(events("permission.denied")) == 1


def test_it_refuses_a_version_that_is_not_in_the_stage_below(version, contributor):
    with pytest.raises(Conflict) as refused:
        started(contributor, version, Stage.PRODUCTION)

    assert refused.value.code == "not_next_stage"
    assert "cannot be gated for Production" in refused.value.message
    assert not GateRun.objects.exists()
    [event] = events("gate.refused")
    assert event.actor == contributor
    assert event.target_id == str(version.pk)
    assert event.data == {
        "target_stage": "production",
        "code": "not_next_stage",
        "message": refused.value.message,
    }
    assert not events("gate.requested")


@pytest.mark.parametrize("target", ["draft", "archived", "moon", ""])
def test_it_refuses_a_target_no_gate_guards(version, contributor, target):
    with pytest.raises(InvalidInput) as refused:
        started(contributor, version, target)

    assert list(refused.value.errors) == ["target_stage"]
    assert not GateRun.objects.exists()


def test_asking_again_returns_the_open_run(version, contributor):
    first = started(contributor, version)
    again = started(contributor, version)

    assert again.pk == first.pk
    assert GateRun.objects.count() == 1
    assert len(events("gate.requested")) == 1


def test_asking_again_after_a_run_finished_starts_a_new_one(version, contributor):
    first = started(contributor, version)
    gate_run_execute(run_id=first.pk)

    again = started(contributor, version)

    assert again.pk != first.pk
    assert GateRun.objects.count() == 2


def test_it_queues_the_run_only_after_commit(
    version, contributor, django_capture_on_commit_callbacks, gate_queue
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = started(contributor, version)

    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.enqueued_at is None  # nothing was sent while the transaction could still roll back


def test_it_publishes_on_commit_and_records_when(
    version, contributor, django_capture_on_commit_callbacks, gate_queue
):
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = started(contributor, version)

    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.enqueued_at == T0
    assert run.state == GateState.PENDING


def test_a_broker_that_is_down_leaves_the_run_pending_for_the_sweeper(
    version, contributor, django_capture_on_commit_callbacks, broker_down
):
    with django_capture_on_commit_callbacks(execute=True):
        run = started(contributor, version)

    run.refresh_from_db()
    assert run.state == GateState.PENDING
    assert run.enqueued_at is None
    assert len(events("gate.requested")) == 1


# --- executing ------------------------------------------------------------------------------------------


def test_it_runs_every_check_and_writes_the_results_with_the_final_state(version, contributor):
    run = started(contributor, version)

    with clock.frozen_at(T0):
        state = gate_run_execute(run_id=run.pk)

    assert state == "passed"
    run.refresh_from_db()
    assert run.state == GateState.PASSED
    assert (run.attempts, run.started_at, run.finished_at, run.lease_expires_at) == (1, T0, T0, None)
    assert run.checks_done == run.checks_total == len(Check.ALL)
    results = list(run.results.order_by("position"))
    assert [result.check_name for result in results] == list(Check.ALL)
    assert [result.position for result in results] == list(range(len(Check.ALL)))
    required = set(DEFAULT_RULES.draft_to_staging.required_checks)
    assert {result.check_name for result in results if result.required} == required
    # The version has no card yet: reported, but the Staging policy does not require that check.
    by_name = {result.check_name: result for result in results}
    assert by_name[Check.CARD_SECTIONS].status == "failed"
    assert by_name[Check.SOURCE_RUN].summary == "Tracked run mlflow:run-42."
    assert by_name[Check.ARTIFACTS].numbers["artifacts"] == 2


def test_it_records_the_production_version_it_compared_against(staged, in_production, contributor):
    run = started(contributor, staged, Stage.PRODUCTION)

    gate_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.baseline == in_production
    baseline_result = run.results.get(check_name=Check.BASELINE)
    assert baseline_result.numbers["baseline"] == in_production.identifier
    rollback = run.results.get(check_name=Check.ROLLBACK_TARGET)
    assert rollback.numbers == {"target": in_production.identifier}


def test_it_records_no_baseline_when_nothing_is_in_production(staged, contributor):
    run = started(contributor, staged, Stage.PRODUCTION)

    gate_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.baseline is None
    assert run.results.get(check_name=Check.ROLLBACK_TARGET).status == "passed"  # first production allowed


def test_it_fails_the_gate_when_a_required_check_fails(model, staged, contributor, policy_admin):
    data = copy.deepcopy(DEFAULT_RULES.as_data())
    data["staging_to_production"]["latency_p95_ms_max"] = 5  # the candidate's p95 is 9.5 ms
    policy_revise(actor=policy_admin, model=model, rules_data=data, reason="Faster.")
    run = started(contributor, staged, Stage.PRODUCTION)

    assert gate_run_execute(run_id=run.pk) == "failed"

    latency = run.results.get(check_name=Check.LATENCY)
    assert (latency.status, latency.required) == ("failed", True)
    [event] = events("gate.finished")
    assert "latency" in event.data["failed"]


def test_a_check_that_raises_is_recorded_as_an_error(staged, contributor, monkeypatch):
    def broken(snapshot):
        raise KeyError("p95")

    monkeypatch.setitem(checks.CHECKS, Check.LATENCY, broken)
    run = started(contributor, staged, Stage.PRODUCTION)

    state = gate_run_execute(run_id=run.pk)

    result = run.results.get(check_name=Check.LATENCY)
    assert (result.status, result.summary) == ("error", "The check failed to run: KeyError: 'p95'")
    # Every check is required for Production by default, and the card is not written: failed beats error.
    assert state == "failed"
    assert run.results.count() == len(Check.ALL)


def test_evidence_that_cannot_be_loaded_ends_the_run_in_error_with_the_reason(
    staged, contributor, monkeypatch
):
    def unreadable(**kwargs):
        raise OSError("storage unavailable")

    monkeypatch.setattr("warehouse.promotions.gates.services.snapshot_load", unreadable)
    run = started(contributor, staged, Stage.PRODUCTION)

    state = gate_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (state, run.state, run.results.count()) == ("error", "error", 0)
    assert run.error == "The evidence could not be loaded: OSError: storage unavailable"
    [event] = events("gate.finished")
    assert event.data["error"] == run.error


def test_a_gate_for_a_version_that_moved_on_does_not_judge_it(version, contributor):
    run = started(contributor, version)
    version_move(version, Stage.STAGING, actor=contributor)

    state = gate_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (state, run.results.count()) == ("error", 0)
    assert "moved to Staging before its gate ran" in run.error


def test_the_finish_is_audited_as_the_system(version, contributor):
    run = started(contributor, version)

    gate_run_execute(run_id=run.pk)

    [event] = events("gate.finished")
    assert (event.actor, event.actor_label) == (None, "system")
    assert event.target_id == str(version.pk)
    assert event.model_name == "fraud-scorer"
    assert event.data == {
        "gate_run": run.pk,
        "state": "passed",
        "target_stage": "staging",
        "attempt": 1,
        "policy_revision": run.policy_revision_id,
        "failed": [],
    }


def test_the_task_runs_the_gate_and_labels_the_trail_as_the_worker(version, contributor):
    run = started(contributor, version)

    result = gate_run_execute_task.apply(args=[run.pk])

    assert result.get() == "passed"
    [event] = events("gate.finished")
    assert event.via == "worker"


def test_running_it_a_second_time_does_nothing(version, contributor):
    run = started(contributor, version)
    gate_run_execute(run_id=run.pk)
    before = (CheckResult.objects.count(), AuditEvent.objects.count())
    finished = GateRun.objects.values().get(pk=run.pk)

    assert gate_run_execute(run_id=run.pk) is None

    assert (CheckResult.objects.count(), AuditEvent.objects.count()) == before
    assert GateRun.objects.values().get(pk=run.pk) == finished


def test_it_does_nothing_for_a_run_that_does_not_exist(db):
    assert gate_run_execute(run_id=987654) is None
    assert gate_run_execute_task.apply(args=[987654]).get() is None


def test_it_leaves_a_run_another_worker_holds_on_a_live_lease(version, contributor):
    run = started(contributor, version)
    with clock.frozen_at(T0):
        claim = _claim(run.pk)

    with clock.frozen_at(T0 + timedelta(seconds=60)):
        assert gate_run_execute(run_id=run.pk) is None

    run.refresh_from_db()
    assert claim.attempt == 1
    assert (run.state, run.attempts) == (GateState.RUNNING, 1)
    assert not run.results.exists()


def test_another_attempt_takes_over_after_the_lease_expires(version, contributor, settings):
    run = started(contributor, version)
    with clock.frozen_at(T0):
        first = _claim(run.pk)
    run.refresh_from_db()
    assert run.lease_expires_at == T0 + timedelta(seconds=settings.GATE_LEASE_SECONDS)

    later = T0 + timedelta(seconds=settings.GATE_LEASE_SECONDS + 1)
    with clock.frozen_at(later):
        second = _claim(run.pk)

    assert (first.attempt, second.attempt) == (1, 2)
    run.refresh_from_db()
    assert (run.state, run.attempts, run.started_at) == (GateState.RUNNING, 2, later)


def test_a_stale_attempt_writes_nothing_when_it_finishes(version, contributor):
    run = started(contributor, version)
    stale = _claim(run.pk)
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))
    current = _claim(run.pk)
    run = GateRun.objects.select_related("version__model", "policy_revision").get(pk=run.pk)
    rules = DEFAULT_RULES.draft_to_staging
    snapshot = snapshot_load(version=run.version, target_stage=run.target_stage, rules=rules)
    outcomes = {name: check_run(name, snapshot) for name in CHECKS}
    before = AuditEvent.objects.count()

    assert _finish(run, stale, outcomes, rules.required_checks, "passed", None) is None
    assert not CheckResult.objects.exists()
    assert AuditEvent.objects.count() == before
    assert GateRun.objects.get(pk=run.pk).state == GateState.RUNNING

    assert _finish(run, current, outcomes, rules.required_checks, "passed", None) == "passed"
    assert CheckResult.objects.filter(gate_run=run).count() == len(Check.ALL)
    assert events("gate.finished")[0].data["attempt"] == 2


def test_a_stale_attempt_finishing_after_the_run_ended_writes_nothing(version, contributor):
    run = started(contributor, version)
    stale = _claim(run.pk)
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))
    assert gate_run_execute(run_id=run.pk) == "passed"  # attempt 2 claims and finishes
    run = GateRun.objects.select_related("version__model").get(pk=run.pk)

    assert _finish(run, stale, {}, (), "failed", None) is None
    assert GateRun.objects.get(pk=run.pk).state == GateState.PASSED
    assert CheckResult.objects.filter(gate_run=run).count() == len(Check.ALL)


def test_attempts_stop_at_the_maximum(version, contributor, settings):
    settings.GATE_MAX_ATTEMPTS = 2
    run = started(contributor, version)
    assert _claim(run.pk).attempt == 1
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))
    assert _claim(run.pk).attempt == 2
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))

    assert _claim(run.pk) is None
    assert gate_run_execute(run_id=run.pk) is None
    assert GateRun.objects.get(pk=run.pk).attempts == 2


def test_progress_is_written_as_the_checks_run(version, contributor, monkeypatch):
    run = started(contributor, version)
    seen = []
    position = list(CHECKS).index(Check.COST)

    def watching(snapshot):
        seen.append(GateRun.objects.values_list("checks_done", "checks_total").get(pk=run.pk))
        return CheckOutcome("passed", "Watched.")

    monkeypatch.setitem(checks.CHECKS, Check.COST, watching)

    gate_run_execute(run_id=run.pk)

    assert seen == [(position, len(Check.ALL))]
    run.refresh_from_db()
    assert run.checks_done == run.checks_total == len(Check.ALL)


def test_a_new_attempt_starts_its_progress_again(version, contributor):
    run = started(contributor, version)
    _claim(run.pk)
    GateRun.objects.filter(pk=run.pk).update(
        checks_done=7, lease_expires_at=clock.now() - timedelta(seconds=1)
    )

    _claim(run.pk)

    assert GateRun.objects.get(pk=run.pk).checks_done == 0


def test_check_results_cannot_be_rewritten(version, contributor):
    run = started(contributor, version)
    gate_run_execute(run_id=run.pk)

    with pytest.raises(IntegrityError), transaction.atomic():
        CheckResult.objects.filter(gate_run=run).update(status="passed")
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckResult.objects.filter(gate_run=run).delete()

    assert CheckResult.objects.filter(gate_run=run, status="failed").exists()


# --- on PostgreSQL, with real threads -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_workers_on_one_run_make_one_set_of_results(version, contributor, gate_queue):
    run = started(contributor, version)

    results = at_once(lambda index: gate_run_execute(run_id=run.pk), count=8)

    assert (results.count("passed"), results.count(None)) == (1, 7), results
    assert CheckResult.objects.filter(gate_run=run).count() == len(Check.ALL)
    assert len(events("gate.finished")) == 1
    run.refresh_from_db()
    assert (run.state, run.attempts) == (GateState.PASSED, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_make_one_open_run(version, contributor, gate_queue):
    results = at_once(lambda index: started(contributor, version).pk, count=8)

    assert all(isinstance(result, int) for result in results), results
    assert len(set(results)) == 1
    assert GateRun.objects.count() == 1
    assert len(events("gate.requested")) == 1
