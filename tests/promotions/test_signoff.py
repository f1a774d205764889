"""Signing off a promotion request: approve, reject, override; every refusal is on the record and writes
nothing else; the approval that completes the policy executes the move in its own transaction."""

import pytest
from django.core.exceptions import PermissionDenied

from tests.factories import user_with_roles, version_move
from tests.promotions.test_promotion_request import (
    after_refusal,
    asked,
    awaiting,
    checks_failed,
    global_policy,  # noqa: F401 - autouse fixture
    in_staging,
    ready_version,
    rules_with,
    written,
)
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import Decision, GateState, RequestState, SignOff
from warehouse.promotions.policies.services import policy_revise
from warehouse.promotions.requests.selectors import signoff_eligibility
from warehouse.promotions.requests.services import promotion_request_cancel, promotion_request_recheck
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import ModelVersion, Stage, StageTransition
from warehouse.registry.services import model_permissions_set


@pytest.fixture
def to_staging(contributor, model):
    return awaiting(ready_version(actor=contributor, model=model), actor=contributor)


@pytest.fixture
def to_production(contributor, model):
    return awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)


@pytest.fixture
def overrider(approver, superuser, model):
    """The approver, also granted the override permission on this one model."""
    model_permissions_set(actor=superuser, model=model, principal=approver, codenames={"override_gate"})
    return approver


def refused_signoff(before, *, actor, action="permission.denied") -> AuditEvent:
    event = after_refusal(before)
    assert (event.action, event.actor) == (action, actor)
    return event


# --- Approving and rejecting ----------------------------------------------------------------------------


def test_a_reviewer_approves_a_move_to_staging_which_executes(reviewer, to_staging):
    signoff = signoff_record(
        actor=reviewer, promotion=to_staging, decision=Decision.APPROVE, comment="  Looks right. "
    )

    assert (signoff.signer, signoff.role, signoff.decision) == (reviewer, "reviewer", Decision.APPROVE)
    assert (signoff.comment, signoff.override) == ("Looks right.", False)
    to_staging.refresh_from_db()
    assert to_staging.state == RequestState.APPROVED
    assert (to_staging.closed_by, to_staging.closed_reason) == (reviewer, "Signed off by rita.")
    assert to_staging.version.stage == Stage.STAGING
    assert to_staging.transition.actor == reviewer
    recorded = AuditEvent.objects.get(action="signoff.recorded")
    assert recorded.data["decision"] == "approve"
    assert recorded.data["role"] == "reviewer"
    assert AuditEvent.objects.filter(action="promotion.approved", target_id=str(to_staging.pk)).exists()


def test_an_approval_needs_no_comment(reviewer, to_staging):
    assert signoff_record(actor=reviewer, promotion=to_staging, decision="approve").comment == ""


def test_a_sign_off_is_bound_to_the_gate_run_it_looked_at(reviewer, to_staging):
    signoff = signoff_record(actor=reviewer, promotion=to_staging, decision="approve")

    assert signoff.gate_run == to_staging.gate_run
    recorded = AuditEvent.objects.get(action="signoff.recorded")
    assert (recorded.data["gate_run"], recorded.data["gate_state"]) == (
        to_staging.gate_run_id,
        GateState.PASSED,
    )


def test_a_reviewer_rejects_with_a_comment_which_closes_the_request(reviewer, to_staging):
    signoff = signoff_record(actor=reviewer, promotion=to_staging, decision="reject", comment="No slices.")

    assert signoff.decision == Decision.REJECT
    to_staging.refresh_from_db()
    assert to_staging.state == RequestState.REJECTED
    assert (to_staging.closed_by, to_staging.closed_reason) == (reviewer, "No slices.")
    assert to_staging.version.stage == Stage.DRAFT
    assert not StageTransition.objects.filter(to_stage=Stage.STAGING).exists()
    rejected = AuditEvent.objects.get(action="promotion.rejected")
    assert rejected.data == {"promotion_request": to_staging.pk, "comment": "No slices."}


def test_a_request_whose_checks_failed_may_be_rejected(contributor, approver, version):
    promotion = checks_failed(version, actor=contributor)

    signoff_record(actor=approver, promotion=promotion, decision="reject", comment="Write the card first.")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.REJECTED


def test_an_approver_approves_the_first_move_to_production(approver, to_production):
    signoff = signoff_record(actor=approver, promotion=to_production, decision="approve")

    assert signoff.role == "approver"
    version = ModelVersion.objects.get(pk=to_production.version_id)
    assert (version.stage, version.rollback_target) == (Stage.PRODUCTION, None)


def test_a_superuser_signs_as_the_role_the_policy_names(superuser, to_production):
    assert signoff_record(actor=superuser, promotion=to_production, decision="approve").role == "approver"


def test_executing_archives_the_previous_production_version_and_records_it_as_rollback_target(
    contributor, approver, model, version
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    promotion = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    assert promotion.gate_run.baseline == version

    signoff_record(actor=approver, promotion=promotion, decision="approve", comment="Ship it.")

    candidate = ModelVersion.objects.get(pk=promotion.version_id)
    version.refresh_from_db()
    assert (candidate.stage, candidate.rollback_target) == (Stage.PRODUCTION, version)
    assert version.stage == Stage.ARCHIVED
    assert list(ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)) == [candidate]
    replaced = StageTransition.objects.get(version=version, to_stage=Stage.ARCHIVED)
    assert replaced.reason.startswith(f"Replaced by {candidate.identifier}")
    promotion.refresh_from_db()
    assert promotion.transition.version == candidate


def test_executing_supersedes_the_other_open_requests_to_production(contributor, approver, model):
    first = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    second = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    to_staging = awaiting(ready_version(actor=contributor, model=model), actor=contributor)

    signoff_record(actor=approver, promotion=first, decision="approve")

    second.refresh_from_db()
    assert second.state == RequestState.SUPERSEDED
    assert second.closed_by is None
    assert second.closed_reason == (
        f"{first.version.identifier} reached Production first; ask again so the gate compares "
        f"{second.version.identifier} against it."
    )
    event = AuditEvent.objects.get(action="promotion.superseded")
    assert (event.actor, event.data["promotion_request"]) == (None, second.pk)
    to_staging.refresh_from_db()
    assert to_staging.state == RequestState.AWAITING_SIGNOFF  # production does not concern it

    before = written()
    with pytest.raises(Conflict) as refused:
        signoff_record(actor=approver, promotion=second, decision="approve")
    assert refused.value.code == "request_closed"
    assert "reached Production first" in refused.value.message
    refused_signoff(before, actor=approver, action="signoff.refused")


def test_it_needs_two_distinct_approvers_when_the_policy_asks_for_two(
    contributor, approver, policy_admin, team, model
):
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(staging_to_production={"signoffs": {"count": 2, "roles": ["approver"]}}),
        reason="Two approvers for production.",
    )
    second_approver = user_with_roles("andy", Role.APPROVER, teams=(team,))
    promotion = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)

    signoff_record(actor=approver, promotion=promotion, decision="approve")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    assert promotion.version.stage == Stage.STAGING

    before = written()
    with pytest.raises(Conflict) as refused:
        signoff_record(actor=approver, promotion=promotion, decision="approve")
    assert refused.value.code == "already_signed"
    event = refused_signoff(before, actor=approver, action="signoff.refused")
    assert event.data["code"] == "already_signed"

    signoff_record(actor=second_approver, promotion=promotion, decision="approve")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert promotion.version.stage == Stage.PRODUCTION
    assert set(promotion.signoffs.values_list("signer__username", flat=True)) == {"april", "andy"}


def test_a_rejection_after_one_of_two_approvals_closes_the_request(
    contributor, reviewer, policy_admin, team, model
):
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(draft_to_staging={"signoffs": {"count": 2, "roles": ["reviewer"]}}),
        reason="Two reviewers.",
    )
    other_reviewer = user_with_roles("rob", Role.REVIEWER, teams=(team,))
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    signoff_record(actor=reviewer, promotion=promotion, decision="approve")

    signoff_record(actor=other_reviewer, promotion=promotion, decision="reject", comment="Slice r2 is off.")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.REJECTED
    assert promotion.version.stage == Stage.DRAFT


# --- Refusals: who may not sign -------------------------------------------------------------------------


def test_it_refuses_a_reviewer_on_a_move_to_production(reviewer, to_production):
    before = written()

    with pytest.raises(PermissionDenied, match="needs the approver role"):
        signoff_record(actor=reviewer, promotion=to_production, decision="approve")

    event = refused_signoff(before, actor=reviewer)
    assert event.data["permission"] == "registry.signoff_production"
    assert event.model_name == "fraud-scorer"


@pytest.mark.parametrize("person", ["contributor", "viewer", "responder", "policy_admin"])
def test_it_refuses_someone_without_the_reviewer_role_on_a_move_to_staging(person, request, to_staging):
    actor = request.getfixturevalue(person)
    before = written()

    with pytest.raises(PermissionDenied, match="needs the reviewer role"):
        signoff_record(actor=actor, promotion=to_staging, decision="approve")

    assert refused_signoff(before, actor=actor).data["permission"] == "registry.signoff_staging"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_it_refuses_someone_who_cannot_see_the_model(decision, outsider, to_production):
    before = written()

    with pytest.raises(PermissionDenied):
        signoff_record(actor=outsider, promotion=to_production, decision=decision, comment="Mine now.")

    refused_signoff(before, actor=outsider)


def test_it_refuses_self_approval_by_the_requester(team, contributor, model):
    # A contributor who is also a reviewer may ask, and may review others' requests, but not their own.
    both = user_with_roles("rex", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=both)
    before = written()

    with pytest.raises(PermissionDenied, match="You asked for this promotion"):
        signoff_record(actor=both, promotion=promotion, decision="approve")

    assert refused_signoff(before, actor=both).data["permission"] == "four-eyes"
    assert signoff_eligibility(user=both, promotion=promotion).refusal


def test_it_refuses_self_rejection_by_the_requester(team, contributor, model):
    both = user_with_roles("rex", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=both)
    before = written()

    with pytest.raises(PermissionDenied, match="four eyes"):
        signoff_record(actor=both, promotion=promotion, decision="reject", comment="Changed my mind.")

    refused_signoff(before, actor=both)


def test_it_refuses_approval_by_the_registrant_of_the_version(team, contributor, model):
    registrant = user_with_roles("ada", Role.CONTRIBUTOR, Role.APPROVER, teams=(team,))
    candidate = in_staging(actor=registrant, model=model)
    promotion = awaiting(candidate, actor=contributor, to=Stage.PRODUCTION)
    before = written()

    with pytest.raises(PermissionDenied, match="You registered this version"):
        signoff_record(actor=registrant, promotion=promotion, decision="approve")

    assert refused_signoff(before, actor=registrant).data["permission"] == "four-eyes"


def test_it_refuses_a_superuser_approving_their_own_request(superuser, model):
    promotion = awaiting(ready_version(actor=superuser, model=model), actor=superuser)

    with pytest.raises(PermissionDenied, match="four eyes"):
        signoff_record(actor=superuser, promotion=promotion, decision="approve")


def test_it_refuses_a_second_sign_off_by_the_same_person(reviewer, contributor, policy_admin, model):
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(draft_to_staging={"signoffs": {"count": 2, "roles": ["reviewer"]}}),
        reason="Two reviewers.",
    )
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    signoff_record(actor=reviewer, promotion=promotion, decision="approve")
    before = written()

    with pytest.raises(Conflict, match="already signed"):
        signoff_record(actor=reviewer, promotion=promotion, decision="reject", comment="On second thought.")

    refused_signoff(before, actor=reviewer, action="signoff.refused")
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF


# --- Refusals: what the request's state does not allow --------------------------------------------------


def test_it_refuses_approval_when_the_gate_failed(contributor, approver, version):
    promotion = checks_failed(version, actor=contributor)
    before = written()

    with pytest.raises(PermissionDenied, match="The gate has not passed"):
        signoff_record(actor=approver, promotion=promotion, decision="approve", comment="Fine by me.")

    assert refused_signoff(before, actor=approver).data["permission"] == "gate-passed"
    promotion.refresh_from_db()
    assert promotion.state == RequestState.CHECKS_FAILED


def test_it_refuses_approval_while_the_gate_is_still_running(contributor, reviewer, model):
    promotion = asked(ready_version(actor=contributor, model=model), actor=contributor)
    before = written()

    with pytest.raises(PermissionDenied, match="still running"):
        signoff_record(actor=reviewer, promotion=promotion, decision="approve")

    refused_signoff(before, actor=reviewer)
    promotion.refresh_from_db()
    assert promotion.state == RequestState.CHECKING


def test_it_refuses_approval_of_a_stale_copy_once_the_gate_state_is_read_under_lock(
    contributor, approver, version
):
    # The caller's copy says "awaiting sign-off" but the request's checks failed: the locked read decides.
    promotion = checks_failed(version, actor=contributor)
    promotion.state = RequestState.AWAITING_SIGNOFF
    before = written()

    with pytest.raises(Conflict) as refused:
        signoff_record(actor=approver, promotion=promotion, decision="approve")

    assert refused.value.code == "gate_not_passed"
    refused_signoff(before, actor=approver, action="signoff.refused")


@pytest.mark.parametrize("closing", ["approved", "rejected", "cancelled"])
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_it_refuses_a_sign_off_on_a_closed_request(
    closing, decision, contributor, reviewer, team, to_staging
):
    if closing == "cancelled":
        promotion_request_cancel(actor=contributor, promotion=to_staging)
    else:
        decided = {"approved": "approve", "rejected": "reject"}[closing]
        signoff_record(actor=reviewer, promotion=to_staging, decision=decided, comment="Done.")
    to_staging.refresh_from_db()
    assert to_staging.state == closing
    late = user_with_roles("rob", Role.REVIEWER, teams=(team,))
    before = written()

    with pytest.raises(Conflict) as refused:
        signoff_record(actor=late, promotion=to_staging, decision=decision, comment="Late.")

    assert refused.value.code == "request_closed"
    assert "Nothing was signed." in refused.value.message
    event = refused_signoff(before, actor=late, action="signoff.refused")
    assert (event.data["code"], event.data["decision"]) == ("request_closed", decision)


# --- Refusals: bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("comment", ["", "   ", None])
def test_it_refuses_a_rejection_without_a_comment_and_writes_nothing(comment, reviewer, to_staging):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        signoff_record(actor=reviewer, promotion=to_staging, decision="reject", comment=comment)

    assert list(refused.value.errors) == ["comment"]
    assert written() == before


@pytest.mark.parametrize(
    ("decision", "comment", "override", "field"),
    [
        ("maybe", "Hmm.", False, "decision"),
        (None, "Hmm.", False, "decision"),
        ("approve", "x" * 5001, False, "comment"),
        ("approve", 7, False, "comment"),
        ("reject", "Nope.", True, "override"),
    ],
)
def test_bad_input_writes_nothing(decision, comment, override, field, reviewer, to_staging):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        signoff_record(
            actor=reviewer, promotion=to_staging, decision=decision, comment=comment, override=override
        )

    assert field in refused.value.errors
    assert written() == before


# --- Override -------------------------------------------------------------------------------------------


def test_someone_with_the_override_permission_approves_despite_a_failed_gate(contributor, overrider, version):
    promotion = checks_failed(version, actor=contributor)

    signoff = signoff_record(
        actor=overrider,
        promotion=promotion,
        decision="approve",
        comment="Card is on the wiki; incident INC-7 needs this fix now.",
        override=True,
    )

    assert signoff.override is True
    assert signoff.gate_run.state == GateState.FAILED
    promotion.refresh_from_db()
    assert promotion.overridden is True
    assert promotion.overridden_by == overrider
    assert promotion.override_justification == "Card is on the wiki; incident INC-7 needs this fix now."
    assert promotion.state == RequestState.APPROVED
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
    assert "[gate overridden: Card is on the wiki" in promotion.transition.reason
    assert AuditEvent.objects.get(action="signoff.recorded").data["override"] is True
    assert AuditEvent.objects.get(action="promotion.approved").data["overridden"] is True


def test_it_refuses_an_override_without_the_override_permission(contributor, approver, version):
    promotion = checks_failed(version, actor=contributor)
    before = written()

    with pytest.raises(PermissionDenied, match="needs the override permission"):
        signoff_record(
            actor=approver, promotion=promotion, decision="approve", comment="Trust me.", override=True
        )

    assert refused_signoff(before, actor=approver).data["permission"] == "registry.override_gate"
    promotion.refresh_from_db()
    assert (promotion.state, promotion.overridden) == (RequestState.CHECKS_FAILED, False)


def test_the_override_permission_does_not_replace_the_role(contributor, reviewer, superuser, model, version):
    model_permissions_set(actor=superuser, model=model, principal=reviewer, codenames={"override_gate"})
    promotion = checks_failed(version, actor=contributor)
    before = written()

    with pytest.raises(PermissionDenied, match="needs the approver role"):
        signoff_record(
            actor=reviewer, promotion=promotion, decision="approve", comment="Urgent.", override=True
        )

    refused_signoff(before, actor=reviewer)


@pytest.mark.parametrize("justification", ["", "  ", None])
def test_it_refuses_an_override_without_a_justification_and_writes_nothing(
    justification, contributor, overrider, version
):
    promotion = checks_failed(version, actor=contributor)
    before = written()

    with pytest.raises(InvalidInput) as refused:
        signoff_record(
            actor=overrider, promotion=promotion, decision="approve", comment=justification, override=True
        )

    assert "justification" in refused.value.errors["comment"][0]
    assert written() == before


def test_it_refuses_an_override_of_a_gate_that_passed(overrider, to_production):
    before = written()

    with pytest.raises(Conflict) as refused:
        signoff_record(
            actor=overrider, promotion=to_production, decision="approve", comment="x", override=True
        )

    assert refused.value.code == "override_not_needed"
    refused_signoff(before, actor=overrider, action="signoff.refused")


def test_it_refuses_an_override_of_a_gate_still_running(contributor, overrider, model):
    promotion = asked(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    before = written()

    with pytest.raises(Conflict) as refused:
        signoff_record(actor=overrider, promotion=promotion, decision="approve", comment="x", override=True)

    assert refused.value.code == "gate_running"
    refused_signoff(before, actor=overrider, action="signoff.refused")


def test_an_override_under_a_two_approver_policy_waits_for_the_second(
    contributor, overrider, policy_admin, team, model, version
):
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(staging_to_production={"signoffs": {"count": 2, "roles": ["approver"]}}),
        reason="Two approvers for production.",
    )
    promotion = checks_failed(version, actor=contributor)

    signoff_record(
        actor=overrider, promotion=promotion, decision="approve", comment="Urgent fix.", override=True
    )

    promotion.refresh_from_db()
    assert (promotion.state, promotion.overridden) == (RequestState.AWAITING_SIGNOFF, True)
    version.refresh_from_db()
    assert version.stage == Stage.STAGING
    second = user_with_roles("andy", Role.APPROVER, teams=(team,))
    signoff_record(actor=second, promotion=promotion, decision="approve", comment="Agreed.")
    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert promotion.overridden  # the flag stays on the request that executed


def test_a_signoff_naming_an_older_gate_run_signs_nothing(contributor, overrider, version):
    """The override justification was written about run #1's failures; the gate ran again meanwhile."""
    request = checks_failed(version, actor=contributor)
    looked_at = request.gate_run_id
    promotion_request_recheck(actor=contributor, promotion=request)
    request.refresh_from_db()
    gate_run_execute(run_id=request.gate_run_id)
    request.refresh_from_db()
    assert request.gate_run_id != looked_at and request.state == RequestState.CHECKS_FAILED
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict) as refused:
        signoff_record(
            actor=overrider,
            promotion=request,
            decision="approve",
            override=True,
            comment="Accepted: the card section is written after release.",
            gate_run_id=looked_at,
        )
    assert refused.value.code == "gate_run_changed"
    assert not SignOff.objects.filter(request=request).exists()
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.order_by("-sequence").first().action == "signoff.refused"
