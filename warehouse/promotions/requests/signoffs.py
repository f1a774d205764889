"""Every write of a sign-off: an approval or a rejection of a promotion request, bound to the gate run it
looked at. The approval that completes what the policy asks for executes the move in its transaction."""

from django.db import transaction

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.models import Decision, PolicyRevision, PromotionRequest, RequestState, SignOff
from warehouse.promotions.policies.impact import section_changed
from warehouse.promotions.policies.rules import revision_section
from warehouse.promotions.policies.services import policy_in_force
from warehouse.promotions.requests.lifecycle import (
    promotion_request_execute,
    promotion_request_supersede,
    signoffs_needed,
)
from warehouse.promotions.requests.selectors import (
    OVERRIDE_PERMISSION,
    SignoffEligibility,
    signoff_eligibility,
)
from warehouse.promotions.requests.services import (
    justification_problem,
    promotion_request_lock,
    refusal_record,
)
from warehouse.registry.models import Stage


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
    decision = _signoff_decision(decision, override, gate_run_id)
    version = promotion.version
    attempted = f"{'override the gate and approve' if override else decision.label.lower()[:-1]} " + (
        f"request #{promotion.pk} ({version.identifier} to {Stage(promotion.target_stage).label})"
    )
    eligibility = _signer_eligibility(actor, promotion, override, attempted)
    comment = _signoff_comment(comment, decision, override)
    if decision == Decision.APPROVE and not override:
        _require_gate_passed(actor, promotion, attempted)
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
        refusal_record(
            actor=actor,
            action="signoff.refused",
            promotion_or_version=promotion,
            refusal=refusal,
            promotion_request=promotion.pk,
            decision=decision.value,
        )
        raise


def _signoff_decision(decision, override, gate_run_id) -> Decision:
    """The decision asked for, once the input is well formed; InvalidInput names every bad field."""
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
    return decision


def _signer_eligibility(actor, promotion, override: bool, attempted: str) -> SignoffEligibility:
    """What `actor` may sign as; a refusal on the record (403) when they may not sign this way."""
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
    return eligibility


def _signoff_comment(comment, decision: Decision, override: bool) -> str:
    """The comment, trimmed; a rejection and an override must say why."""
    if decision == Decision.REJECT or override:
        problem = justification_problem(
            comment,
            required="Write the justification for overriding the gate: it is shown wherever the version is."
            if override
            else "Say why you reject it: the requester reads it.",
        )
    else:
        problem = justification_problem(comment or "-", required="")
    if problem:
        raise InvalidInput({"comment": [problem]}, "The sign-off has errors; nothing was saved.")
    return (comment or "").strip()


def _require_gate_passed(actor, promotion: PromotionRequest, attempted: str) -> None:
    """An approval without an override waits for the gate: refused on the record while it has not passed."""
    if promotion.state in (RequestState.CHECKING, RequestState.CHECKS_FAILED):
        raise _signoff_denied(
            actor,
            promotion,
            "gate-passed",
            attempted,
            "The gate has not passed: approval waits for its checks to pass"
            + (" (they are still running)." if promotion.state == RequestState.CHECKING else "."),
        )


def _signoff_denied(actor, promotion, permission, attempted, message):
    denied = permission_denied(
        actor=actor, target=promotion.model, permission=permission, attempted=attempted
    )
    denied.args = (message,)
    return denied


def _move_rules_changed(run, in_force: PolicyRevision, target_stage: str) -> bool:
    """Whether the revision in force asks anything other of this move than the one the gate ran under: a
    revision that changed only the other move leaves the gate run, and the sign-offs on it, standing."""
    if in_force.pk == run.policy_revision_id:
        return False
    return section_changed(run.policy_revision, target_stage, revision_section(in_force, target_stage))


# --- Under lock ------------------------------------------------------------------------------------------


def _signoff_locked(
    actor, promotion, decision, comment, override, role, in_force: PolicyRevision, gate_run_id=None
) -> SignOff | Conflict:
    locked = promotion_request_lock(promotion=promotion)
    _require_signable(locked, actor, gate_run_id)
    run = locked.gate_run
    if locked.state != RequestState.CHECKING and _move_rules_changed(run, in_force, locked.target_stage):
        promotion_request_supersede(
            promotion=locked,
            why=f"The promotion policy changed its rules for this move since the gate ran (now revision "
            f"{in_force.number}). Ask again: a new gate run under the new rules is needed.",
        )
        # Returned, not raised: raising here would roll the supersession back with the transaction.
        return Conflict(
            "The promotion policy changed since this request's gate ran; the request is superseded. "
            "Nothing was signed.",
            code="policy_changed",
        )
    if decision == Decision.APPROVE:
        _require_approvable(locked, override)
    signoff = _signoff_write(locked, actor, decision, comment, override, role)
    if decision == Decision.REJECT:
        _request_reject(locked, actor, signoff)
        return signoff
    if override and not locked.overridden:
        locked.overridden, locked.overridden_by, locked.override_justification = True, actor, comment
        locked.state = RequestState.AWAITING_SIGNOFF
        locked.save(update_fields=["overridden", "overridden_by", "override_justification", "state"])
    if signoffs_needed(promotion=locked, run=run) == 0:
        promotion_request_execute(
            promotion=locked, actor=actor, note=f"Signed off by {actor.get_username()}."
        )
    return signoff


def _require_signable(locked: PromotionRequest, actor, gate_run_id: int | None) -> None:
    """A Conflict when the request cannot take this person's sign-off whatever it says: it is closed, its
    gate ran again since they looked, or they signed it already."""
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


def _require_approvable(locked: PromotionRequest, override: bool) -> None:
    """An approval needs a passed gate; an override, a gate that finished without passing."""
    if not override:
        if locked.state != RequestState.AWAITING_SIGNOFF:
            raise Conflict(
                f"Request #{locked.pk} is {RequestState(locked.state).label.lower()}: "
                "the gate has not passed.",
                code="gate_not_passed",
            )
        return
    if locked.state == RequestState.AWAITING_SIGNOFF and not locked.overridden:
        raise Conflict("The gate passed: approve without an override.", code="override_not_needed")
    if locked.state == RequestState.CHECKING:
        raise Conflict(
            "The gate is still running: wait for its result before overriding it.", code="gate_running"
        )


def _signoff_write(locked: PromotionRequest, actor, decision, comment, override, role) -> SignOff:
    run = locked.gate_run
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
    return signoff


def _request_reject(locked: PromotionRequest, actor, signoff: SignOff) -> None:
    version = locked.version
    locked.state = RequestState.REJECTED
    locked.closed_at, locked.closed_by, locked.closed_reason = signoff.created_at, actor, signoff.comment
    locked.save(update_fields=["state", "closed_at", "closed_by", "closed_reason"])
    audit_record(
        actor=actor,
        action="promotion.rejected",
        target=locked,
        target_label=version.identifier,
        model_name=version.model.name,
        data={"promotion_request": locked.pk, "comment": signoff.comment},
    )
