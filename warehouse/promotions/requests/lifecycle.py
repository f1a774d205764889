"""What other writes do to a waiting promotion request, in their transaction.

A request's life: `promotion_request_open` writes it with its gate run (checking); the gate's end moves it to
awaiting sign-off or checks failed (`promotion_request_gate_finished`); `signoff_record` adds approvals and
rejections, and the approval that completes what the policy asks for executes the move through
`version_transition` (`promotion_request_execute`), in the same transaction. Whatever changes production,
the policy or the version's own stage while a request waits supersedes it, with the reason on the request
(`promotion_request_supersede`, and the stage listener `promotions_after_stage_change`).

Lock order, as in every stage change: the model row, then its versions, requests and gate runs, then the
head of the audit chain (taken by the first audit event of a transaction). Every function here runs in its
caller's transaction, which holds the model row.
"""

from django.db.models import Q

from warehouse import clock
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict
from warehouse.promotions.models import (
    OPEN_REQUEST_STATES,
    Decision,
    GateRun,
    GateState,
    PromotionRequest,
    RequestState,
)
from warehouse.promotions.policies.rules import revision_rules
from warehouse.registry.models import ModelVersion, Stage, TransitionKind
from warehouse.registry.stage_listeners import StageChange


def promotion_request_gate_finished(*, promotion: PromotionRequest, run: GateRun) -> None:
    """The request's gate run ended: wait for sign-offs, or for a decision on the failed checks. A policy
    that asks for no sign-off executes the move at once."""
    if run.state == GateState.PASSED:
        promotion.state = RequestState.AWAITING_SIGNOFF
    else:
        promotion.state = RequestState.CHECKS_FAILED
    promotion.save(update_fields=["state"])
    if (
        promotion.state == RequestState.AWAITING_SIGNOFF
        and signoffs_needed(promotion=promotion, run=run) == 0
    ):
        promotion_request_execute(
            promotion=promotion,
            actor=promotion.requested_by,
            note="The gate passed and the policy asks for no sign-off.",
        )


def signoffs_needed(*, promotion: PromotionRequest, run: GateRun) -> int:
    """How many more approvals on `run` the policy of the run asks for before the move."""
    rules = revision_rules(run.policy_revision).for_target(promotion.target_stage)
    approvals = promotion.signoffs.filter(decision=Decision.APPROVE, gate_run=run).count()
    return max(rules.signoffs.count - approvals, 0)


def _expected_production(promotion: PromotionRequest) -> ModelVersion | None:
    run = promotion.gate_run
    if run.state in (GateState.PASSED, GateState.FAILED):
        return run.baseline
    # The gate stopped before it compared anything (an override of an error): the production the
    # overrider was looking at is the one they accept to replace.
    return (
        ModelVersion.objects.filter(model_id=promotion.model_id, stage=Stage.PRODUCTION)
        .exclude(pk=promotion.version_id)
        .first()
    )


def promotion_request_execute(*, promotion: PromotionRequest, actor, note: str) -> bool:
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
        extra["expected_production"] = _expected_production(promotion)
    reason = f"Promotion request #{promotion.pk}: {promotion.justification}"
    if promotion.overridden:
        reason += f" [gate overridden: {promotion.override_justification}]"
    try:
        transition = version_transition(
            version=version, to_stage=target, actor=actor, reason=reason, cause=promotion, **extra
        )
    except Conflict as refusal:
        promotion_request_supersede(promotion=promotion, why=f"The move was refused: {refusal.message}")
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


def _stale_reason(change: StageChange, promotion: PromotionRequest) -> str:
    version, from_stage, to_stage = change.version, Stage(change.from_stage), Stage(change.to_stage)
    if promotion.version_id == version.pk:
        return f"{version.identifier} moved from {from_stage.label} to {to_stage.label} meanwhile."
    if change.transition.kind == TransitionKind.ROLLBACK:
        return (
            f"Production was rolled back to {version.identifier}. Ask again so the gate compares "
            f"{promotion.version.identifier} against what is in production now."
        )
    if to_stage == Stage.PRODUCTION:
        return (
            f"{version.identifier} reached Production first; ask again so the gate compares "
            f"{promotion.version.identifier} against it."
        )
    return (
        f"Production changed meanwhile: {version.identifier} left it. Ask again so the gate "
        "compares against what is in production now."
    )


def promotions_after_stage_change(change: StageChange) -> None:
    """The stage listener (registered in PromotionsConfig.ready): supersede the open requests a stage change
    made stale, in the change's transaction, holding the model row. The request that made the move (its
    `cause`) is its caller's to close.

    The version's own open requests asked to move it from the stage it has left. When production changed,
    every open request to Production of the model was judged against a production version that is gone.
    """
    version = change.version
    production_changed = Stage.PRODUCTION in (Stage(change.from_stage), Stage(change.to_stage))
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
    for promotion in stale.select_related("version__model", "requested_by").order_by("pk"):
        promotion_request_supersede(promotion=promotion, why=_stale_reason(change, promotion))


def promotion_request_supersede(*, promotion: PromotionRequest, why: str) -> None:
    """Close a request that something else made stale, with the reason on it and on the record."""
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
        data={
            "promotion_request": promotion.pk,
            "target_stage": promotion.target_stage,
            "requested_by": promotion.requested_by.get_username(),
            "reason": why,
        },
    )
