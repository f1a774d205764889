"""Every write about promotion policies and gate runs.

The gate's life: `gate_run_start` writes the run (pending) and, after commit, publishes its id;
`gate_run_execute` (the worker) claims it with a conditional update, runs the checks outside any
transaction, and writes every result with the final state in one transaction; `gate_runs_sweep`
(Celery beat, and `manage.py sweep_gates`) re-publishes runs the broker lost and gives up on runs that
keep failing. Publishing never raises: a broker that is down leaves a pending run for the sweeper.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Max, Q

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.checks import CHECKS, check_run, gate_verdict
from warehouse.promotions.models import (
    OPEN_GATE_STATES,
    OPEN_REQUEST_STATES,
    CheckResult,
    Decision,
    GateRun,
    GateState,
    PolicyRevision,
    PromotionPolicy,
    PromotionRequest,
    RequestState,
    SignOff,
)
from warehouse.promotions.policy import (
    DEFAULT_RULES,
    SECTION_FOR_TARGET,
    TRANSITIONS,
    PolicyRules,
    policy_parse,
)
from warehouse.promotions.snapshot import snapshot_load
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage, TransitionKind
from warehouse.registry.stage_listeners import StageChange
from warehouse.text import is_encodable, text_problem

logger = logging.getLogger(__name__)

NEXT_STAGE = {source: target for source, target in TRANSITIONS.values()}


# --- Policies -------------------------------------------------------------------------------------------


def _global_policy_locked() -> PromotionPolicy:
    """The global default policy, locked; written with the built-in rules the first time it is needed."""
    policy = PromotionPolicy.objects.select_for_update().filter(model__isnull=True).first()
    if policy is not None:
        return policy
    # There is no row to lock yet, so two first uses can both get here: the unique constraint lets one
    # create it, and makes the other wait for that one's commit and then fail, in a savepoint, and read it.
    try:
        with transaction.atomic():
            policy = PromotionPolicy.objects.create(model=None)
    except IntegrityError:
        return PromotionPolicy.objects.select_for_update().get(model__isnull=True)
    revision = PolicyRevision.objects.create(
        policy=policy,
        number=1,
        rules=DEFAULT_RULES.as_data(),
        reason="The warehouse's built-in default.",
        author=None,
        created_at=clock.now(),
    )
    policy.current = revision
    policy.save(update_fields=["current"])
    audit_record(
        actor=None, action="policy.revised", target=revision, data={"scope": "global", "revision": 1}
    )
    return policy


def policy_in_force(*, model: RegisteredModel) -> PolicyRevision:
    """The revision that applies to `model` now: its own policy's, else the global default's."""
    own = PolicyRevision.objects.filter(policy__model=model, policy__current=F("pk")).first()
    if own is not None:
        return own
    default = PolicyRevision.objects.filter(policy__model__isnull=True, policy__current=F("pk")).first()
    if default is not None:
        return default
    # Only the very first use writes (and locks) the global default.
    with transaction.atomic():
        return PolicyRevision.objects.select_related("policy").get(pk=_global_policy_locked().current_id)


def policy_revise(*, actor, model: RegisteredModel | None, rules_data, reason: str) -> PolicyRevision:
    """Save new rules as the next revision of `model`'s policy (None: the global default).

    Needs the policy admin permission on the model; the global default needs a superuser.
    """
    if model is None:
        if not actor.is_superuser:
            raise permission_denied(
                actor=actor, target=None, permission="superuser", attempted="edit the global promotion policy"
            )
    else:
        model_access(actor, model).require(
            "registry.admin_policy", attempted=f"edit the promotion policy of {model.name}"
        )
    errors = {}
    try:
        rules = policy_parse(rules_data)
    except InvalidInput as error:
        errors.update(error.errors)
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["Say why the policy changes: reviewers read it next to every gate run."]
    elif len(reason) > 2000:
        errors["reason"] = ["At most 2000 characters."]
    if errors:
        raise InvalidInput(errors, "The policy has errors; no revision was saved.")
    with transaction.atomic():
        if model is None:
            policy = _global_policy_locked()
            # Every model still on the default is affected: their rows first, in one order, before the
            # audit chain (the lock order of every stage change).
            affected = list(
                RegisteredModel.objects.select_for_update(of=("self",))
                .filter(promotion_policy__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        else:
            RegisteredModel.objects.select_for_update().get(pk=model.pk)
            policy, _ = PromotionPolicy.objects.get_or_create(model=model)
            affected = [model.pk]
        stale = list(
            PromotionRequest.objects.select_for_update()
            .filter(model_id__in=affected, state__in=OPEN_REQUEST_STATES)
            .select_related("version__model")
            .order_by("pk")
        )
        number = (policy.revisions.aggregate(last=Max("number"))["last"] or 0) + 1
        revision = PolicyRevision.objects.create(
            policy=policy,
            number=number,
            rules=rules.as_data(),
            reason=reason,
            author=actor,
            created_at=clock.now(),
        )
        policy.current = revision
        policy.save(update_fields=["current"])
        audit_record(
            actor=actor,
            action="policy.revised",
            target=revision,
            model_name=model.name if model else "",
            data={"scope": model.name if model else "global", "revision": number, "reason": reason},
        )
        for promotion in stale:
            _request_supersede(
                promotion,
                f"The promotion policy changed (revision {number}: {reason}) while this request was open. "
                "Ask again: a new gate run under the new rules is needed.",
            )
    return revision


def revision_rules(revision: PolicyRevision) -> PolicyRules:
    return policy_parse(revision.rules)


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
            return _gate_run_create(actor, version, target_stage, revision)
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


def _gate_run_create(actor, version, target_stage, revision) -> GateRun:
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
        # Progress for the report page, and a renewed lease: a worker that is still making progress is
        # not taken for dead. Tied to this attempt, so a stale worker cannot move either.
        GateRun.objects.filter(pk=run_id, attempts=claim.attempt, state=GateState.RUNNING).update(
            checks_done=len(outcomes),
            lease_expires_at=clock.now() + timedelta(seconds=settings.GATE_LEASE_SECONDS),
        )
    state = gate_verdict(outcomes, rules.required_checks)
    return _finish(run, claim, outcomes, rules.required_checks, state, snapshot.baseline_version_id)


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
            _request_gate_finished(promotion, locked)
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
                _request_gate_finished(promotion, run)
    return changed


# --- Promotion requests ---------------------------------------------------------------------------------
#
# A request's life: `promotion_request` writes it with its gate run (checking); the gate's end moves it to
# awaiting sign-off or checks failed (`_request_gate_finished`); `signoff_record` adds approvals and
# rejections, and the approval that completes what the policy asks for executes the move through
# `version_transition`, in the same transaction. Whatever changes production, the policy or the version's
# own stage while a request waits supersedes it, with the reason on the request.
#
# Lock order, as in every stage change: the model row, then its versions, requests and gate runs, then the
# head of the audit chain (taken by the first audit event of a transaction).

JUSTIFICATION_MAX = 5000
# The role a policy names, and the permission (held through the role group, or on the one model) that
# makes someone that role for sign-off.
SIGNOFF_PERMISSION = {"reviewer": "registry.signoff_staging", "approver": "registry.signoff_production"}
OVERRIDE_PERMISSION = "registry.override_gate"


def _text_problem(value, *, required: str, max_length: int = JUSTIFICATION_MAX) -> str:
    return text_problem(value, required=required, max_length=max_length)


def _audit_refusal(*, actor, action: str, promotion_or_version, refusal: Conflict, **data) -> None:
    version = (
        promotion_or_version.version
        if isinstance(promotion_or_version, PromotionRequest)
        else promotion_or_version
    )
    audit_record(
        actor=actor,
        action=action,
        target=promotion_or_version,
        target_label=version.identifier,
        model_name=version.model.name,
        data={"code": refusal.code, "message": refusal.message, **data},
    )


def promotion_request(
    *, actor, version: ModelVersion, target_stage: Stage | str, justification: str
) -> PromotionRequest:
    """Ask for `version` to move up to `target_stage`: write the request and its gate run, queue the run.

    One open request per version and target stage. Needs the request permission on the model.
    """
    model = version.model
    model_access(actor, model).require(
        "registry.request_promotion", attempted=f"request promotion of {version.identifier}"
    )
    errors = {}
    target = Stage(target_stage) if target_stage in Stage.values else None
    if target not in SECTION_FOR_TARGET:
        errors["target_stage"] = ["Promotion goes to Staging (from Draft) or to Production (from Staging)."]
    problem = _text_problem(
        justification, required="Say why this version should move up: reviewers read it first."
    )
    if problem:
        errors["justification"] = [problem]
    if errors:
        raise InvalidInput(errors, "The request has errors; nothing was saved.")
    revision = policy_in_force(model=model)
    try:
        with transaction.atomic():
            return _promotion_request_create(actor, version, target, justification.strip(), revision)
    except Conflict as refusal:
        _audit_refusal(
            actor=actor,
            action="promotion.refused",
            promotion_or_version=version,
            refusal=refusal,
            target_stage=target.value,
        )
        raise


def _promotion_request_create(actor, version, target, justification, revision) -> PromotionRequest:
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    stage = ModelVersion.objects.values_list("stage", flat=True).get(pk=version.pk)
    if NEXT_STAGE.get(stage) != target:
        raise Conflict(
            f"{version.identifier} is in {Stage(stage).label}: promotion to {target.label} is not the next "
            "step. Draft goes to Staging, and Staging to Production.",
            code="not_next_stage",
        )
    already = PromotionRequest.objects.filter(
        version=version, target_stage=target, state__in=OPEN_REQUEST_STATES
    ).first()
    if already is not None:
        raise Conflict(
            f"Request #{already.pk} to move {version.identifier} to {target.label} is already open "
            f"({RequestState(already.state).label.lower()}).",
            code="request_open",
        )
    run = _gate_run_create(actor, version, target, revision)
    promotion = PromotionRequest.objects.create(
        model_id=version.model_id,
        version=version,
        from_stage=stage,
        target_stage=target,
        justification=justification,
        requested_by=actor,
        created_at=clock.now(),
        gate_run=run,
    )
    audit_record(
        actor=actor,
        action="promotion.requested",
        target=promotion,
        target_label=version.identifier,
        model_name=version.model.name,
        data={
            "promotion_request": promotion.pk,
            "version": version.number,
            "from": stage,
            "to": target.value,
            "gate_run": run.pk,
            "justification": justification,
        },
    )
    if not run.is_open:
        _request_gate_finished(promotion, run)
    return promotion


def _request_gate_finished(promotion: PromotionRequest, run: GateRun) -> None:
    """The request's gate run ended: wait for sign-offs, or for a decision on the failed checks. A policy
    that asks for no sign-off executes the move at once."""
    if run.state == GateState.PASSED:
        promotion.state = RequestState.AWAITING_SIGNOFF
    else:
        promotion.state = RequestState.CHECKS_FAILED
    promotion.save(update_fields=["state"])
    if promotion.state == RequestState.AWAITING_SIGNOFF and _signoffs_needed(promotion, run) == 0:
        _request_execute(
            promotion,
            actor=promotion.requested_by,
            note="The gate passed and the policy asks for no sign-off.",
        )


def _signoffs_needed(promotion: PromotionRequest, run: GateRun) -> int:
    rules = revision_rules(run.policy_revision).for_target(promotion.target_stage)
    approvals = promotion.signoffs.filter(decision=Decision.APPROVE, gate_run=run).count()
    return max(rules.signoffs.count - approvals, 0)


def _request_execute(promotion: PromotionRequest, *, actor, note: str) -> bool:
    """Make the move the request asked for, in the caller's transaction (which holds the model row).

    The move states the production version the gate compared against: if production changed since, the
    comparison no longer holds and the request is superseded instead.
    """
    from warehouse.registry.services import version_transition

    run = promotion.gate_run
    version = promotion.version
    target = Stage(promotion.target_stage)
    extra = {}
    if target == Stage.PRODUCTION:
        if run.state in (GateState.PASSED, GateState.FAILED):
            extra["expected_production"] = run.baseline
        else:
            # The gate stopped before it compared anything (an override of an error): the production the
            # overrider was looking at is the one they accept to replace.
            extra["expected_production"] = (
                ModelVersion.objects.filter(model_id=promotion.model_id, stage=Stage.PRODUCTION)
                .exclude(pk=version.pk)
                .first()
            )
    reason = f"Promotion request #{promotion.pk}: {promotion.justification}"
    if promotion.overridden:
        reason += f" [gate overridden: {promotion.override_justification}]"
    try:
        transition = version_transition(
            version=version, to_stage=target, actor=actor, reason=reason, cause=promotion, **extra
        )
    except Conflict as refusal:
        _request_supersede(promotion, f"The move was refused: {refusal.message}")
        return False
    promotion.state = RequestState.APPROVED
    promotion.transition = transition
    promotion.closed_at = transition.created_at
    promotion.closed_by = actor
    promotion.closed_reason = note
    promotion.save(update_fields=["state", "transition", "closed_at", "closed_by", "closed_reason"])
    audit_record(
        actor=actor,
        action="promotion.approved",
        target=promotion,
        target_label=version.identifier,
        model_name=version.model.name,
        data={
            "promotion_request": promotion.pk,
            "to": target.value,
            "gate_run": run.pk,
            "gate_state": run.state,
            "overridden": promotion.overridden,
            "transition": transition.pk,
        },
    )
    return True


def promotions_after_stage_change(change: StageChange) -> None:
    """The stage listener (registered in PromotionsConfig.ready): supersede the open requests a stage change
    made stale, in the change's transaction, holding the model row. The request that made the move (its
    `cause`) is its caller's to close.

    The version's own open requests asked to move it from the stage it has left. When production changed,
    every open request to Production of the model was judged against a production version that is gone.
    """
    version, from_stage, to_stage = change.version, Stage(change.from_stage), Stage(change.to_stage)
    production_changed = Stage.PRODUCTION in (from_stage, to_stage)
    stale = PromotionRequest.objects.select_for_update().filter(
        model_id=version.model_id, state__in=OPEN_REQUEST_STATES
    )
    stale = (
        stale.filter(Q(version=version) | Q(target_stage=Stage.PRODUCTION))
        if production_changed
        else (stale.filter(version=version))
    )
    if isinstance(change.cause, PromotionRequest):
        stale = stale.exclude(pk=change.cause.pk)
    for promotion in stale.select_related("version__model").order_by("pk"):
        if promotion.version_id == version.pk:
            why = f"{version.identifier} moved from {from_stage.label} to {to_stage.label} meanwhile."
        elif change.transition.kind == TransitionKind.ROLLBACK:
            why = (
                f"Production was rolled back to {version.identifier}. Ask again so the gate compares "
                f"{promotion.version.identifier} against what is in production now."
            )
        else:
            why = (
                f"{version.identifier} reached Production first; ask again so the gate compares "
                f"{promotion.version.identifier} against it."
                if to_stage == Stage.PRODUCTION
                else f"Production changed meanwhile: {version.identifier} left it. Ask again so the gate "
                "compares against what is in production now."
            )
        _request_supersede(promotion, why)


def _request_supersede(promotion: PromotionRequest, why: str) -> None:
    promotion.state = RequestState.SUPERSEDED
    promotion.closed_at = clock.now()
    promotion.closed_by = None
    promotion.closed_reason = why
    promotion.save(update_fields=["state", "closed_at", "closed_by", "closed_reason"])
    audit_record(
        actor=None,
        action="promotion.superseded",
        target=promotion,
        target_label=promotion.version.identifier,
        model_name=promotion.version.model.name,
        data={"promotion_request": promotion.pk, "reason": why},
    )


def _request_locked(promotion: PromotionRequest) -> PromotionRequest:
    RegisteredModel.objects.select_for_update().get(pk=promotion.model_id)
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version__model", "gate_run__policy_revision", "gate_run__baseline", "requested_by")
        .get(pk=promotion.pk)
    )


# --- Sign-off -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignoffEligibility:
    """Whether one person may sign one request, and if not, why: what the request page shows them."""

    role: str | None
    can_override: bool
    refusal: str  # "" when they may sign
    permission: str  # what the refusal is about, for the audit event


def signoff_eligibility(*, user, promotion: PromotionRequest, access=None) -> SignoffEligibility:
    """Who may sign: the roles the policy names for this move (reviewer to Staging and approver to
    Production by default), on this model; never the requester nor the version's registrant (four eyes)."""
    access = access or model_access(user, promotion.model)
    rules = revision_rules(promotion.gate_run.policy_revision).for_target(promotion.target_stage)
    role = next((r for r in rules.signoffs.roles if access.can(SIGNOFF_PERMISSION[r])), None)
    can_override = access.can(OVERRIDE_PERMISSION)
    names = " or ".join(rules.signoffs.roles) or "nobody"
    if role is None:
        return SignoffEligibility(
            None,
            False,
            f"Signing off a move to {Stage(promotion.target_stage).label} of {promotion.model.name} needs "
            f"the {names} role on that model.",
            "/".join(SIGNOFF_PERMISSION[r] for r in rules.signoffs.roles),
        )
    if user.pk == promotion.requested_by_id:
        return SignoffEligibility(
            role,
            can_override,
            "You asked for this promotion: someone else must sign it (four eyes).",
            "four-eyes",
        )
    if user.pk == promotion.version.registered_by_id:
        return SignoffEligibility(
            role,
            can_override,
            "You registered this version: someone else must sign it (four eyes).",
            "four-eyes",
        )
    return SignoffEligibility(role, can_override, "", "")


def signoff_record(
    *,
    actor,
    promotion: PromotionRequest,
    decision: Decision | str,
    comment: str = "",
    override: bool = False,
    gate_run_id: int | None = None,
) -> SignOff:
    """Approve or reject a request, bound to its current gate run.

    Approval needs a passed gate; with `override`, someone holding the override permission approves
    despite a gate that did not pass, and `comment` is the written justification. The approval that
    completes what the policy asks for executes the move in this transaction. A rejection closes the
    request. Refusals are on the record: who may not sign is a 403 (PermissionDenied), what the request's
    state does not allow is a Conflict. `gate_run_id` is the run the signer looked at (the page and the API
    send it): if the gate ran again since, nothing is signed, because a sign-off binds to what was read.
    """
    # First what is asked (needed to judge who may ask it), then who may, then the text: someone who may
    # not sign is refused on the record whatever their comment says.
    errors = {}
    decision = Decision(decision) if decision in Decision.values else None
    if decision is None:
        errors["decision"] = ["Approve or reject."]
    if gate_run_id is not None and (isinstance(gate_run_id, bool) or not isinstance(gate_run_id, int)):
        errors["gate_run"] = ["The id of the gate run you looked at, a whole number."]
    if not isinstance(override, bool):
        errors["override"] = ["true or false."]
    elif override and decision == Decision.REJECT:
        errors["override"] = ["An override approves; to reject, reject."]
    if errors:
        raise InvalidInput(errors, "The sign-off has errors; nothing was saved.")
    version = promotion.version
    attempted = f"{'override the gate and approve' if override else decision.label.lower()[:-1]} " + (
        f"request #{promotion.pk} ({version.identifier} to {Stage(promotion.target_stage).label})"
    )
    access = model_access(actor, promotion.model)
    eligibility = signoff_eligibility(user=actor, promotion=promotion, access=access)
    if eligibility.refusal:
        raise _signoff_denied(actor, promotion, eligibility.permission, attempted, eligibility.refusal)
    if override and not eligibility.can_override:
        raise _signoff_denied(
            actor,
            promotion,
            OVERRIDE_PERMISSION,
            attempted,
            "Approving despite the gate needs the override permission on this model.",
        )
    if decision == Decision.REJECT or override:
        problem = _text_problem(
            comment,
            required="Write the justification for overriding the gate: it is shown wherever the version is."
            if override
            else "Say why you reject it: the requester reads it.",
        )
    else:
        problem = _text_problem(comment or "-", required="")
    if problem:
        raise InvalidInput({"comment": [problem]}, "The sign-off has errors; nothing was saved.")
    comment = (comment or "").strip()
    if decision == Decision.APPROVE and not override and promotion.state != RequestState.AWAITING_SIGNOFF:
        if promotion.state in (RequestState.CHECKING, RequestState.CHECKS_FAILED):
            raise _signoff_denied(
                actor,
                promotion,
                "gate-passed",
                attempted,
                "The gate has not passed: approval waits for its checks to pass"
                + (" (they are still running)." if promotion.state == RequestState.CHECKING else "."),
            )
    in_force = policy_in_force(model=promotion.model)
    try:
        with transaction.atomic():
            outcome = _signoff_locked(
                actor, promotion, decision, comment, override, eligibility.role, in_force, gate_run_id
            )
        if isinstance(outcome, Conflict):
            # Raised after the commit, so that the request stays superseded.
            raise outcome
        return outcome
    except Conflict as refusal:
        _audit_refusal(
            actor=actor,
            action="signoff.refused",
            promotion_or_version=promotion,
            refusal=refusal,
            promotion_request=promotion.pk,
            decision=decision.value,
        )
        raise


def _signoff_denied(actor, promotion, permission, attempted, message):
    denied = permission_denied(
        actor=actor, target=promotion.model, permission=permission, attempted=attempted
    )
    denied.args = (message,)
    return denied


def _signoff_locked(
    actor, promotion, decision, comment, override, role, in_force, gate_run_id=None
) -> SignOff | Conflict:
    locked = _request_locked(promotion)
    if not locked.is_open:
        raise Conflict(
            f"Request #{locked.pk} is {RequestState(locked.state).label.lower()}"
            + (f": {locked.closed_reason}" if locked.closed_reason else ".")
            + " Nothing was signed.",
            code="request_closed",
        )
    if gate_run_id is not None and gate_run_id != locked.gate_run_id:
        raise Conflict(
            f"The gate ran again since you looked (gate run #{locked.gate_run_id} now, you read "
            f"#{gate_run_id}). Read the new results before signing; nothing was signed.",
            code="gate_run_changed",
        )
    if SignOff.objects.filter(request=locked, signer=actor).exists():
        raise Conflict(
            "You have already signed this request: one sign-off per person.", code="already_signed"
        )
    run = locked.gate_run
    if in_force.pk != run.policy_revision_id and locked.state != RequestState.CHECKING:
        _request_supersede(
            locked,
            f"The promotion policy changed since the gate ran (now revision {in_force.number}). "
            "Ask again: a new gate run under the new rules is needed.",
        )
        # Returned, not raised: raising here would roll the supersession back with the transaction.
        return Conflict(
            "The promotion policy changed since this request's gate ran; the request is superseded. "
            "Nothing was signed.",
            code="policy_changed",
        )
    if decision == Decision.APPROVE:
        if override:
            if locked.state == RequestState.AWAITING_SIGNOFF and not locked.overridden:
                raise Conflict("The gate passed: approve without an override.", code="override_not_needed")
            if locked.state == RequestState.CHECKING:
                raise Conflict(
                    "The gate is still running: wait for its result before overriding it.",
                    code="gate_running",
                )
        elif locked.state != RequestState.AWAITING_SIGNOFF:
            raise Conflict(
                f"Request #{locked.pk} is {RequestState(locked.state).label.lower()}: "
                "the gate has not passed.",
                code="gate_not_passed",
            )
    signoff = SignOff.objects.create(
        request=locked,
        gate_run=run,
        signer=actor,
        role=role,
        decision=decision,
        comment=comment,
        override=override,
        created_at=clock.now(),
    )
    version = locked.version
    audit_record(
        actor=actor,
        action="signoff.recorded",
        target=locked,
        target_label=version.identifier,
        model_name=version.model.name,
        data={
            "promotion_request": locked.pk,
            "decision": decision.value,
            "role": role,
            "gate_run": run.pk,
            "gate_state": run.state,
            "override": override,
            "comment": comment,
        },
    )
    if decision == Decision.REJECT:
        locked.state = RequestState.REJECTED
        locked.closed_at, locked.closed_by, locked.closed_reason = signoff.created_at, actor, comment
        locked.save(update_fields=["state", "closed_at", "closed_by", "closed_reason"])
        audit_record(
            actor=actor,
            action="promotion.rejected",
            target=locked,
            target_label=version.identifier,
            model_name=version.model.name,
            data={"promotion_request": locked.pk, "comment": comment},
        )
        return signoff
    if override and not locked.overridden:
        locked.overridden, locked.overridden_by, locked.override_justification = True, actor, comment
        locked.state = RequestState.AWAITING_SIGNOFF
        locked.save(update_fields=["overridden", "overridden_by", "override_justification", "state"])
    if _signoffs_needed(locked, run) == 0:
        _request_execute(locked, actor=actor, note=f"Signed off by {actor.get_username()}.")
    return signoff


# --- Cancelling, checking again, archiving --------------------------------------------------------------


def promotion_request_cancel(*, actor, promotion: PromotionRequest, reason: str = "") -> PromotionRequest:
    """Withdraw an open request. The requester may, and so may a superuser."""
    if actor.pk != promotion.requested_by_id and not actor.is_superuser:
        raise permission_denied(
            actor=actor,
            target=promotion.model,
            permission="requester",
            attempted=f"cancel request #{promotion.pk}, which someone else asked for",
        )
    if reason is not None and (not isinstance(reason, str) or "\x00" in reason or not is_encodable(reason)):
        raise InvalidInput(
            {"reason": ["Must be text, without NUL characters or lone surrogates."]}, "Nothing was cancelled."
        )
    reason = (reason or "").strip()[:2000] or "Withdrawn by the requester."
    try:
        with transaction.atomic():
            locked = _request_locked(promotion)
            if not locked.is_open:
                raise Conflict(
                    f"Request #{locked.pk} is already {RequestState(locked.state).label.lower()}.",
                    code="request_closed",
                )
            locked.state = RequestState.CANCELLED
            locked.closed_at, locked.closed_by, locked.closed_reason = clock.now(), actor, reason
            locked.save(update_fields=["state", "closed_at", "closed_by", "closed_reason"])
            audit_record(
                actor=actor,
                action="promotion.cancelled",
                target=locked,
                target_label=locked.version.identifier,
                model_name=locked.version.model.name,
                data={"promotion_request": locked.pk, "reason": reason},
            )
            return locked
    except Conflict as refusal:
        _audit_refusal(
            actor=actor, action="promotion.refused", promotion_or_version=promotion, refusal=refusal
        )
        raise


def promotion_request_recheck(*, actor, promotion: PromotionRequest) -> PromotionRequest:
    """Run the gate again for a request whose checks failed (after the card was completed, say).
    Sign-offs bind to the gate run they looked at, so only those given on the new run count."""
    model_access(actor, promotion.model).require(
        "registry.request_promotion", attempted=f"run the gate again for request #{promotion.pk}"
    )
    revision = policy_in_force(model=promotion.model)
    try:
        with transaction.atomic():
            locked = _request_locked(promotion)
            if locked.state != RequestState.CHECKS_FAILED:
                raise Conflict(
                    f"Request #{locked.pk} is {RequestState(locked.state).label.lower()}: "
                    "the gate runs again only after its checks failed.",
                    code="not_checks_failed",
                )
            run = _gate_run_create(actor, locked.version, Stage(locked.target_stage), revision)
            locked.gate_run, locked.state = run, RequestState.CHECKING
            locked.save(update_fields=["gate_run", "state"])
            audit_record(
                actor=actor,
                action="promotion.rechecked",
                target=locked,
                target_label=locked.version.identifier,
                model_name=locked.version.model.name,
                data={"promotion_request": locked.pk, "gate_run": run.pk},
            )
            if not run.is_open:
                _request_gate_finished(locked, run)
            return locked
    except Conflict as refusal:
        _audit_refusal(
            actor=actor, action="promotion.refused", promotion_or_version=promotion, refusal=refusal
        )
        raise


def version_archive(*, actor, version: ModelVersion, reason: str):
    """Retire a version. Archiving the production version needs the approver's permission and leaves
    nothing in production; its open requests, and the model's requests to Production, are superseded."""
    from warehouse.registry.services import version_transition

    access = model_access(actor, version.model)
    access.require("registry.archive_version", attempted=f"archive {version.identifier}")
    if version.stage == Stage.PRODUCTION:
        access.require(
            "registry.archive_production",
            attempted=f"archive {version.identifier}, the production version of {version.model.name}",
        )
    problem = _text_problem(reason, required="Say why the version is retired.", max_length=2000)
    if problem:
        raise InvalidInput({"reason": [problem]}, "Nothing was archived.")
    try:
        with transaction.atomic():
            RegisteredModel.objects.select_for_update().get(pk=version.model_id)
            from_stage = Stage(ModelVersion.objects.values_list("stage", flat=True).get(pk=version.pk))
            if from_stage == Stage.PRODUCTION and version.stage != Stage.PRODUCTION:
                # Promoted since the page was read: the production permission was not checked.
                raise Conflict(
                    f"{version.identifier} is in Production now; look again before archiving it.",
                    code="stage_changed",
                )
            return version_transition(
                version=version, to_stage=Stage.ARCHIVED, actor=actor, reason=reason.strip()
            )
    except Conflict as refusal:
        # Every refusal, not only ours: the one version_transition wrote went with this transaction.
        _audit_refusal(
            actor=actor,
            action="version.stage_change_refused",
            promotion_or_version=version,
            refusal=refusal,
            to=Stage.ARCHIVED.value,
        )
        raise
