"""Every write about promotion policies and gate runs.

The gate's life: `gate_run_start` writes the run (pending) and, after commit, publishes its id;
`gate_run_execute` (the worker) claims it with a conditional update, runs the checks outside any
transaction, records each check's outcome on the run as it finishes (the pages show it live), and writes
every result with the final state in one transaction; `gate_runs_sweep`
(Celery beat, and `manage.py sweep_gates`) re-publishes runs the broker lost and gives up on runs that
keep failing. Publishing never raises: a broker that is down leaves a pending run for the sweeper.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q

from warehouse import clock
from warehouse.accounts.permissions import model_access
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.gates.checks import CHECKS, check_run, gate_verdict
from warehouse.promotions.gates.snapshot import snapshot_load
from warehouse.promotions.models import (
    OPEN_GATE_STATES,
    CheckResult,
    GateRun,
    GateState,
    PolicyRevision,
    PromotionRequest,
    RequestState,
)
from warehouse.promotions.policies.rules import NEXT_STAGE, SECTION_FOR_TARGET, revision_rules
from warehouse.promotions.policies.services import policy_in_force
from warehouse.promotions.requests.lifecycle import promotion_request_gate_finished
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage

logger = logging.getLogger(__name__)


# --- Starting a gate run --------------------------------------------------------------------------------


def gate_run_start(*, actor, version: ModelVersion, target_stage: Stage | str) -> GateRun:
    """Write a pending gate run for moving `version` up to `target_stage`, and queue it after commit.

    One open run per version and target: asking again while one is queued or running returns that one.
    A refusal (the version is not in the stage below the target) is on the record like any other.
    """
    model = version.model
    model_access(actor, model).require(
        "registry.request_promotion", attempted=f"request a gate for {version.identifier}"
    )
    target_stage = Stage(target_stage) if target_stage in Stage.values else None
    if target_stage not in SECTION_FOR_TARGET:
        raise InvalidInput({"target_stage": ["A gate guards the moves to Staging and to Production."]})
    revision = policy_in_force(model=model)
    try:
        with transaction.atomic():
            return gate_run_create(actor=actor, version=version, target_stage=target_stage, revision=revision)
    except Conflict as refusal:
        audit_record(
            actor=actor,
            action="gate.refused",
            target=version,
            target_label=version.identifier,
            model_name=model.name,
            data={"target_stage": target_stage.value, "code": refusal.code, "message": refusal.message},
        )
        raise


def gate_run_create(
    *, actor, version: ModelVersion, target_stage: Stage, revision: PolicyRevision
) -> GateRun:
    """Write the gate run (or return the open one) in the caller's transaction, for `gate_run_start` and for
    the request services, which write it with their request. Raises Conflict when the version is not in the
    stage below `target_stage`; the caller puts the refusal on the record."""
    # Lock order everywhere in the warehouse: the model row, then its versions, requests and runs, then
    # the head of the audit chain. Whoever changes a version's stage holds the model row first.
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if NEXT_STAGE.get(locked.stage) != target_stage:
        raise Conflict(
            f"{version.identifier} is in {Stage(locked.stage).label}: "
            f"it cannot be gated for {target_stage.label}.",
            code="not_next_stage",
        )
    if locked.evidence_pending:
        # Checks of evidence that is not there would only fail: nothing is gated until it is written.
        raise Conflict(
            f"The evidence of {version.identifier} is not written yet: it is being imported from its tracked "
            "run, its import failed (retry it from the version page), or it waits for "
            f"PUT /api/v1/models/{version.model.name}/versions/{version.number}/evidence. The gate runs on "
            "evidence, once it is there.",
            code="evidence_pending",
        )
    open_run = GateRun.objects.filter(
        version=locked, target_stage=target_stage, state__in=OPEN_GATE_STATES
    ).first()
    if open_run is not None:
        return open_run
    run = GateRun.objects.create(
        version=locked,
        target_stage=target_stage,
        policy_revision=revision,
        requested_by=actor,
        requested_at=clock.now(),
        checks_total=len(CHECKS),
    )
    audit_record(
        actor=actor,
        action="gate.requested",
        target=version,
        target_label=version.identifier,
        model_name=version.model.name,
        data={"gate_run": run.pk, "target_stage": target_stage.value, "policy_revision": revision.pk},
    )
    run_id = run.pk
    transaction.on_commit(lambda: gate_run_publish(run_id=run_id), robust=True)
    return run


def gate_run_publish(*, run_id: int) -> bool:
    """Hand the run's id to the broker. Never raises: if the broker cannot take it, the sweeper will."""
    from warehouse.promotions.tasks import gate_run_execute_task

    try:
        gate_run_execute_task.apply_async(
            args=[run_id], retry=True, retry_policy=settings.GATE_PUBLISH_RETRY_POLICY
        )
    except Exception:  # noqa: BLE001 - any broker failure; the row is the record, the sweeper retries
        logger.warning("Could not queue gate run %s; the sweeper will queue it again.", run_id, exc_info=True)
        return False
    GateRun.objects.filter(pk=run_id).update(enqueued_at=clock.now())
    return True


# --- Running a gate (the worker) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    run_id: int
    attempt: int


def _claim(run_id: int) -> Claim | None:
    """Take the run if it is pending, or running on a lease that expired. One UPDATE: two workers cannot
    both win it."""
    now = clock.now()
    claimable = Q(state=GateState.PENDING) | Q(state=GateState.RUNNING, lease_expires_at__lt=now)
    taken = GateRun.objects.filter(Q(pk=run_id) & claimable, attempts__lt=settings.GATE_MAX_ATTEMPTS).update(
        state=GateState.RUNNING,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.GATE_LEASE_SECONDS),
        started_at=now,
        checks_done=0,
        # A new attempt starts from nothing: what an earlier one found is not this one's progress.
        progress=[],
    )
    if not taken:
        return None
    return Claim(run_id, GateRun.objects.values_list("attempts", flat=True).get(pk=run_id))


def gate_run_execute(*, run_id: int) -> str | None:
    """Run the checks of one gate run. Returns its final state, or None when there was nothing to do
    (already finished, claimed by a live worker, or gone)."""
    claim = _claim(run_id)
    if claim is None:
        return None
    run = GateRun.objects.select_related("version__model", "policy_revision").get(pk=run_id)
    expected_stage = {target: source for source, target in NEXT_STAGE.items()}[run.target_stage]
    if run.version.stage != expected_stage:
        return _finish(
            run,
            claim,
            {},
            (),
            GateState.ERROR,
            None,
            error=f"{run.version.identifier} moved to {Stage(run.version.stage).label} before its gate ran; "
            f"a gate for {Stage(run.target_stage).label} no longer applies.",
        )
    try:
        # Judged under the revision in force when the work starts, not when it was asked for: a policy
        # edited while the run waited in the queue applies to it.
        revision = policy_in_force(model=run.version.model)
        if revision.pk != run.policy_revision_id:
            GateRun.objects.filter(pk=run_id, attempts=claim.attempt).update(policy_revision=revision)
            run.policy_revision = revision
        rules = revision_rules(revision).for_target(run.target_stage)
        snapshot = snapshot_load(version=run.version, target_stage=run.target_stage, rules=rules)
    except DatabaseError:
        # Passing trouble: the run stays on its lease and the sweeper hands it out again.
        raise
    except Exception as error:  # noqa: BLE001 - recorded on the run: a reviewer sees why, nothing is retried blindly
        logger.exception("Gate run %s could not load its evidence.", run_id)
        return _finish(
            run,
            claim,
            {},
            (),
            GateState.ERROR,
            None,
            error=f"The evidence could not be loaded: {type(error).__name__}: {error}"[:1000],
        )
    outcomes = {}
    for name in CHECKS:
        outcomes[name] = check_run(name, snapshot)
        gate_run_progress_record(claim=claim, outcomes=outcomes)
        if settings.GATE_CHECK_PAUSE_SECONDS:
            time.sleep(settings.GATE_CHECK_PAUSE_SECONDS)
    state = gate_verdict(outcomes, rules.required_checks)
    return _finish(run, claim, outcomes, rules.required_checks, state, snapshot.baseline_version_id)


def gate_run_progress_record(*, claim: Claim, outcomes) -> bool:
    """Put the checks finished so far on the run, for the pages that show it live, and renew the lease: a
    worker that is still making progress is not taken for dead. Tied to the attempt that claimed the run,
    so a stale worker whose lease another took over writes nothing. Returns whether it wrote."""
    progress = [
        {"check": name, "status": outcome.status, "summary": outcome.summary[:500]}
        for name, outcome in outcomes.items()
    ]
    written = GateRun.objects.filter(pk=claim.run_id, attempts=claim.attempt, state=GateState.RUNNING).update(
        checks_done=len(progress),
        progress=progress,
        lease_expires_at=clock.now() + timedelta(seconds=settings.GATE_LEASE_SECONDS),
    )
    return bool(written)


def _finish(
    run, claim: Claim, outcomes, required, state: str, baseline_id: int | None, *, error: str = ""
) -> str | None:
    with transaction.atomic():
        # The model row first: finishing may execute a promotion (a policy asking for no sign-off).
        RegisteredModel.objects.select_for_update().get(pk=run.version.model_id)
        locked = GateRun.objects.select_for_update().get(pk=run.pk)
        if locked.state != GateState.RUNNING or locked.attempts != claim.attempt:
            # Another attempt took over after this one's lease ran out: its results are the ones that count.
            return None
        waiting = list(
            PromotionRequest.objects.select_for_update().filter(gate_run=locked, state=RequestState.CHECKING)
        )
        CheckResult.objects.bulk_create(
            CheckResult(
                gate_run=locked,
                position=position,
                check_name=name,
                status=outcome.status,
                required=name in required,
                summary=outcome.summary[:500],
                numbers=outcome.numbers,
            )
            for position, (name, outcome) in enumerate(outcomes.items())
        )
        now = clock.now()
        locked.state, locked.finished_at, locked.baseline_id = state, now, baseline_id
        locked.checks_done, locked.lease_expires_at, locked.error = len(outcomes), None, error
        locked.save(
            update_fields=["state", "finished_at", "baseline", "checks_done", "lease_expires_at", "error"]
        )
        version = run.version
        audit_record(
            actor=None,
            action="gate.finished",
            target=version,
            target_label=version.identifier,
            model_name=version.model.name,
            data={
                "gate_run": run.pk,
                "state": state,
                "target_stage": run.target_stage,
                "attempt": claim.attempt,
                "policy_revision": run.policy_revision_id,
                **({"error": error} if error else {}),
                "failed": [
                    name
                    for name, o in outcomes.items()
                    if o.status in ("failed", "error") and name in required
                ],
                **(
                    {"promotion_requests": [waiting_request.pk for waiting_request in waiting]}
                    if waiting
                    else {}
                ),
            },
        )
        for promotion in waiting:
            promotion_request_gate_finished(promotion=promotion, run=locked)
    return state


# --- The sweeper ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    republished: int
    given_up: int
    publish_failed: int


def gate_runs_sweep() -> SweepReport:
    """Queue again the runs the broker lost, and give up on those that used all their attempts.

    A pending run is lost when it was never queued, or queued longer ago than a worker needs to pick it
    up. A running run is lost when its lease expired: its worker died. Once the broker refuses one run, the
    others are not tried in this sweep: each try waits for the broker's timeouts, and the next sweep comes
    in a minute.
    """
    now = clock.now()
    stale_pending = now - timedelta(seconds=settings.GATE_REQUEUE_AFTER_SECONDS)
    lost = (
        GateRun.objects.filter(
            Q(state=GateState.PENDING, enqueued_at__isnull=True)
            | Q(state=GateState.PENDING, enqueued_at__lt=stale_pending)
            | Q(state=GateState.RUNNING, lease_expires_at__lt=now)
        )
        .select_related("version__model")
        .order_by("requested_at", "pk")
    )
    republished = given_up = publish_failed = 0
    broker_refused = False
    for run in lost:
        if run.attempts >= settings.GATE_MAX_ATTEMPTS:
            given_up += _give_up(run)
        elif not broker_refused and gate_run_publish(run_id=run.pk):
            republished += 1
        else:
            broker_refused = True
            publish_failed += 1
    return SweepReport(republished, given_up, publish_failed)


def _give_up(run: GateRun) -> int:
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=run.version.model_id)
        waiting = list(
            PromotionRequest.objects.select_for_update().filter(gate_run=run, state=RequestState.CHECKING)
        )
        changed = GateRun.objects.filter(
            pk=run.pk, state__in=OPEN_GATE_STATES, attempts__gte=settings.GATE_MAX_ATTEMPTS
        ).update(
            state=GateState.ERROR,
            finished_at=clock.now(),
            lease_expires_at=None,
            error=f"Gave up after {run.attempts} attempts: each time the worker stopped before finishing.",
        )
        if changed:
            audit_record(
                actor=None,
                action="gate.finished",
                target=run.version,
                target_label=run.version.identifier,
                model_name=run.version.model.name,
                data={
                    "gate_run": run.pk,
                    "state": GateState.ERROR.value,
                    "attempts": run.attempts,
                    "gave_up": True,
                },
            )
            run.refresh_from_db(fields=["state"])
            for promotion in waiting:
                promotion_request_gate_finished(promotion=promotion, run=run)
    return changed
