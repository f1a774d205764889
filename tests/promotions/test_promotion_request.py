"""Asking for promotion: who may, what is refused (and on the record), what the gate's end does to a request,
running the gate again after failed checks, and withdrawing a request.

The helpers at the top are shared by the other promotion-request test modules.
"""

import copy

import pytest
from django.core.exceptions import PermissionDenied

from tests.factories import user_with_roles, version_move, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.cards.services import card_revise
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.promotions.models import GateRun, GateState, PromotionRequest, RequestState, SignOff
from warehouse.promotions.policies.rules import DEFAULT_RULES
from warehouse.promotions.policies.services import policy_in_force, policy_revise
from warehouse.promotions.requests.services import (
    promotion_request_cancel,
    promotion_request_open,
    promotion_request_recheck,
)
from warehouse.registry.models import ModelVersion, Stage, StageTransition

# What the default policy asks of the card before Production (Staging asks for the task only).
FULL_CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


@pytest.fixture(autouse=True)
def global_policy(model):
    """The global default policy, written as its first use would: so the refusals below are the only writes
    the tests count."""
    return policy_in_force(model=model)


def ready_version(*, actor, model) -> ModelVersion:
    """A new Draft version whose evidence and card pass the default gates to Staging and to Production."""
    return version_register_for_tests(actor=actor, model=model, card=FULL_CARD)


def gated(promotion: PromotionRequest) -> PromotionRequest:
    """Run the request's gate as the worker does, then read the request again."""
    assert gate_run_execute(run_id=promotion.gate_run_id) is not None
    promotion.refresh_from_db()
    return promotion


def asked(version, *, actor, to=Stage.STAGING, justification="Better recall on new merchants."):
    return promotion_request_open(actor=actor, version=version, target_stage=to, justification=justification)


def awaiting(version, *, actor, to=Stage.STAGING) -> PromotionRequest:
    """A request whose gate passed: it waits for sign-off."""
    promotion = gated(asked(version, actor=actor, to=to))
    assert promotion.state == RequestState.AWAITING_SIGNOFF, list(
        promotion.gate_run.results.exclude(status="passed").values_list("check_name", "summary")
    )
    return promotion


def in_staging(*, actor, model) -> ModelVersion:
    """A ready version moved to Staging directly (test setup, not under review)."""
    return version_move(ready_version(actor=actor, model=model), Stage.STAGING, actor=actor)


def checks_failed(version, *, actor) -> PromotionRequest:
    """A request to Production whose gate failed: `version` (the fixture's, registered without a card) is
    moved to Staging, and the default policy asks for three card sections before Production."""
    version_move(version, Stage.STAGING, actor=actor)
    promotion = gated(asked(version, actor=actor, to=Stage.PRODUCTION))
    assert promotion.state == RequestState.CHECKS_FAILED
    return promotion


def rules_with(**sections) -> dict:
    """The default rules with some fields changed: rules_with(draft_to_staging={"signoffs": {...}})."""
    data = copy.deepcopy(DEFAULT_RULES.as_data())
    for section, fields in sections.items():
        data[section].update(fields)
    return data


def written() -> dict[str, int]:
    """How many rows of each kind a request's life writes: compared before and after a refusal."""
    return {
        "requests": PromotionRequest.objects.count(),
        "gate_runs": GateRun.objects.count(),
        "signoffs": SignOff.objects.count(),
        "transitions": StageTransition.objects.count(),
        "events": AuditEvent.objects.count(),
    }


def after_refusal(before: dict[str, int]) -> AuditEvent:
    """Assert that the refusal wrote one audit event and nothing else; return that event."""
    assert written() == {**before, "events": before["events"] + 1}
    return AuditEvent.objects.order_by("-sequence").first()


# --- Creating a request ---------------------------------------------------------------------------------


def test_it_writes_the_request_and_its_gate_run_and_audits_both(contributor, model):
    version = ready_version(actor=contributor, model=model)

    promotion = asked(version, actor=contributor, justification="  Better recall.  ")

    assert promotion.state == RequestState.CHECKING
    assert (promotion.model, promotion.version, promotion.requested_by) == (model, version, contributor)
    assert (promotion.from_stage, promotion.target_stage) == (Stage.DRAFT, Stage.STAGING)
    assert promotion.justification == "Better recall."
    run = promotion.gate_run
    assert (run.state, run.target_stage, run.version, run.requested_by) == (
        GateState.PENDING,
        Stage.STAGING,
        version,
        contributor,
    )
    gate_event = AuditEvent.objects.get(action="gate.requested")
    assert gate_event.data["gate_run"] == run.pk
    event = AuditEvent.objects.get(action="promotion.requested")
    assert (event.actor, event.target_type, event.target_id) == (
        contributor,
        "promotions.promotionrequest",
        str(promotion.pk),
    )
    assert event.data["gate_run"] == run.pk
    assert (event.data["from"], event.data["to"], event.data["justification"]) == (
        "draft",
        "staging",
        "Better recall.",
    )


def test_it_refuses_someone_who_cannot_see_the_model(outsider, model, version):
    before = written()

    with pytest.raises(PermissionDenied):
        asked(version, actor=outsider)

    event = after_refusal(before)
    assert (event.action, event.actor) == ("permission.denied", outsider)
    assert event.data["permission"] == "registry.request_promotion"


@pytest.mark.parametrize("person", ["viewer", "reviewer", "approver", "policy_admin", "responder"])
def test_it_refuses_a_team_member_without_the_request_permission(person, request, model, version):
    actor = request.getfixturevalue(person)
    before = written()

    with pytest.raises(PermissionDenied, match="request promotion of fraud-scorer"):
        asked(version, actor=actor)

    event = after_refusal(before)
    assert (event.action, event.actor, event.model_name) == ("permission.denied", actor, "fraud-scorer")


def test_a_superuser_may_ask(superuser, model, version):
    assert asked(version, actor=superuser).requested_by == superuser


@pytest.mark.parametrize(
    ("target_stage", "justification", "field"),
    [
        ("archived", "Why not.", "target_stage"),
        ("draft", "Why not.", "target_stage"),
        ("nowhere", "Why not.", "target_stage"),
        (None, "Why not.", "target_stage"),
        (Stage.STAGING, "", "justification"),
        (Stage.STAGING, "   \n ", "justification"),
        (Stage.STAGING, None, "justification"),
        (Stage.STAGING, 42, "justification"),
        (Stage.STAGING, "x" * 5001, "justification"),
        (Stage.STAGING, "nul \x00 inside", "justification"),
    ],
)
def test_bad_input_writes_nothing(contributor, model, version, target_stage, justification, field):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        promotion_request_open(
            actor=contributor, version=version, target_stage=target_stage, justification=justification
        )

    assert list(refused.value.errors) == [field]
    assert written() == before


def test_it_refuses_a_move_that_is_not_the_next_step_on_the_record(contributor, model, version):
    before = written()

    with pytest.raises(Conflict) as refused:
        asked(version, actor=contributor, to=Stage.PRODUCTION)

    assert refused.value.code == "not_next_stage"
    assert "is in Draft" in refused.value.message
    event = after_refusal(before)
    assert (event.action, event.actor, event.target_type) == (
        "promotion.refused",
        contributor,
        "registry.modelversion",
    )
    assert event.data["code"] == "not_next_stage"
    assert event.data["target_stage"] == "production"


def test_it_refuses_promotion_of_a_production_version(contributor, model, version):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    with pytest.raises(Conflict) as refused:
        asked(version, actor=contributor, to=Stage.PRODUCTION)

    assert refused.value.code == "not_next_stage"


def test_it_refuses_a_second_open_request_for_the_same_move_on_the_record(contributor, model, version):
    first = asked(version, actor=contributor)
    before = written()

    with pytest.raises(Conflict) as refused:
        asked(version, actor=contributor, justification="Again.")

    assert refused.value.code == "request_open"
    assert f"#{first.pk}" in refused.value.message
    event = after_refusal(before)
    assert (event.action, event.data["code"]) == ("promotion.refused", "request_open")


def test_the_second_open_request_is_refused_whatever_the_first_one_waits_for(contributor, model, version):
    checks_failed(version, actor=contributor)

    with pytest.raises(Conflict, match="checks failed"):
        asked(version, actor=contributor, to=Stage.PRODUCTION)


def test_a_request_joins_the_gate_run_already_open_for_that_move(contributor, model, version):
    run = gate_run_start(actor=contributor, version=version, target_stage=Stage.STAGING)

    promotion = asked(version, actor=contributor)

    assert promotion.gate_run == run
    assert GateRun.objects.count() == 1


# --- The gate's end -------------------------------------------------------------------------------------


def test_a_passed_gate_makes_the_request_wait_for_sign_off(contributor, model):
    promotion = gated(asked(ready_version(actor=contributor, model=model), actor=contributor))

    assert promotion.gate_run.state == GateState.PASSED
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    finished = AuditEvent.objects.get(action="gate.finished")
    assert finished.data["promotion_requests"] == [promotion.pk]


def test_a_failed_gate_leaves_the_request_open_with_checks_failed(contributor, model, version):
    promotion = checks_failed(version, actor=contributor)

    assert promotion.gate_run.state == GateState.FAILED
    assert promotion.gate_run.results.get(check_name="card_sections").status == "failed"
    assert promotion.is_open
    version.refresh_from_db()
    assert version.stage == Stage.STAGING


def test_the_gate_running_twice_changes_the_request_once(contributor, model):
    promotion = gated(asked(ready_version(actor=contributor, model=model), actor=contributor))

    assert gate_run_execute(run_id=promotion.gate_run_id) is None
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF


def test_a_policy_asking_for_no_sign_off_executes_at_the_gate_end(contributor, policy_admin, model):
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(draft_to_staging={"signoffs": {"count": 0, "roles": []}}),
        reason="Staging is our playground.",
    )
    version = ready_version(actor=contributor, model=model)

    promotion = gated(asked(version, actor=contributor))

    version.refresh_from_db()
    assert version.stage == Stage.STAGING
    assert promotion.state == RequestState.APPROVED
    assert promotion.closed_by == contributor
    assert promotion.closed_reason == "The gate passed and the policy asks for no sign-off."
    assert promotion.transition.version == version
    assert promotion.transition.to_stage == Stage.STAGING
    assert f"Promotion request #{promotion.pk}" in promotion.transition.reason
    assert not SignOff.objects.exists()
    approved = AuditEvent.objects.get(action="promotion.approved")
    assert approved.data["transition"] == promotion.transition_id


def test_a_policy_asking_for_no_sign_off_to_production_replaces_production_at_the_gate_end(
    contributor, policy_admin, model, version
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(staging_to_production={"signoffs": {"count": 0, "roles": []}}),
        reason="Continuous delivery.",
    )
    candidate = in_staging(actor=contributor, model=model)

    promotion = gated(asked(candidate, actor=contributor, to=Stage.PRODUCTION))

    assert promotion.state == RequestState.APPROVED
    candidate.refresh_from_db()
    version.refresh_from_db()
    assert (candidate.stage, candidate.rollback_target) == (Stage.PRODUCTION, version)
    assert version.stage == Stage.ARCHIVED


def test_a_policy_asking_for_no_sign_off_does_not_execute_a_failed_gate(
    contributor, policy_admin, model, version
):
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(staging_to_production={"signoffs": {"count": 0, "roles": []}}),
        reason="Continuous delivery.",
    )

    checks_failed(version, actor=contributor)

    assert not StageTransition.objects.filter(to_stage=Stage.PRODUCTION).exists()


# --- Running the gate again -----------------------------------------------------------------------------


def test_after_failed_checks_the_gate_runs_again(contributor, model, version):
    promotion = checks_failed(version, actor=contributor)
    first_run = promotion.gate_run
    card_revise(actor=contributor, version=version, sections=FULL_CARD, summary="Card written.")

    rechecked = promotion_request_recheck(actor=contributor, promotion=promotion)

    assert rechecked.state == RequestState.CHECKING
    assert rechecked.gate_run != first_run
    assert rechecked.gate_run.state == GateState.PENDING
    event = AuditEvent.objects.get(action="promotion.rechecked")
    assert event.data == {"promotion_request": promotion.pk, "gate_run": rechecked.gate_run_id}
    promotion = gated(rechecked)
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    first_run.refresh_from_db()
    assert first_run.state == GateState.FAILED  # the failed run stays on the record


def test_another_contributor_may_run_the_gate_again(contributor, team, model, version):
    colleague = user_with_roles("cody", Role.CONTRIBUTOR, teams=(team,))
    promotion = checks_failed(version, actor=contributor)

    assert promotion_request_recheck(actor=colleague, promotion=promotion).state == RequestState.CHECKING


def test_it_refuses_to_run_the_gate_again_without_the_request_permission(
    contributor, reviewer, model, version
):
    promotion = checks_failed(version, actor=contributor)
    before = written()

    with pytest.raises(PermissionDenied):
        promotion_request_recheck(actor=reviewer, promotion=promotion)

    assert after_refusal(before).action == "permission.denied"
    promotion.refresh_from_db()
    assert promotion.state == RequestState.CHECKS_FAILED


@pytest.mark.parametrize("state", ["checking", "awaiting_signoff"])
def test_it_refuses_to_run_the_gate_again_unless_checks_failed(state, contributor, model):
    promotion = asked(ready_version(actor=contributor, model=model), actor=contributor)
    if state == "awaiting_signoff":
        gated(promotion)
    before = written()

    with pytest.raises(Conflict) as refused:
        promotion_request_recheck(actor=contributor, promotion=promotion)

    assert refused.value.code == "not_checks_failed"
    event = after_refusal(before)
    assert (event.action, event.data["code"]) == ("promotion.refused", "not_checks_failed")


# --- Withdrawing ----------------------------------------------------------------------------------------


def test_the_requester_cancels_their_request(contributor, model, version):
    promotion = asked(version, actor=contributor)

    cancelled = promotion_request_cancel(actor=contributor, promotion=promotion, reason="  Wrong version. ")

    assert cancelled.state == RequestState.CANCELLED
    assert (cancelled.closed_by, cancelled.closed_reason) == (contributor, "Wrong version.")
    assert cancelled.closed_at is not None
    event = AuditEvent.objects.get(action="promotion.cancelled")
    assert (event.actor, event.data["reason"]) == (contributor, "Wrong version.")


def test_cancelling_without_a_reason_says_the_requester_withdrew_it(contributor, model, version):
    promotion = asked(version, actor=contributor)

    assert promotion_request_cancel(actor=contributor, promotion=promotion).closed_reason == (
        "Withdrawn by the requester."
    )


def test_a_superuser_cancels_someone_elses_request(contributor, superuser, model, version):
    promotion = asked(version, actor=contributor)

    cancelled = promotion_request_cancel(actor=superuser, promotion=promotion, reason="Stale.")

    assert (cancelled.state, cancelled.closed_by) == (RequestState.CANCELLED, superuser)


@pytest.mark.parametrize("person", ["approver", "reviewer", "outsider"])
def test_it_refuses_a_cancel_by_someone_else(person, request, contributor, model, version):
    promotion = asked(version, actor=contributor)
    actor = request.getfixturevalue(person)
    before = written()

    with pytest.raises(PermissionDenied, match="which someone else asked for"):
        promotion_request_cancel(actor=actor, promotion=promotion)

    event = after_refusal(before)
    assert (event.action, event.actor, event.data["permission"]) == ("permission.denied", actor, "requester")
    promotion.refresh_from_db()
    assert promotion.state == RequestState.CHECKING


def test_it_refuses_to_cancel_a_closed_request_on_the_record(contributor, model, version):
    promotion = asked(version, actor=contributor)
    promotion_request_cancel(actor=contributor, promotion=promotion)
    before = written()

    with pytest.raises(Conflict) as refused:
        promotion_request_cancel(actor=contributor, promotion=promotion)

    assert refused.value.code == "request_closed"
    event = after_refusal(before)
    assert (event.action, event.data["code"]) == ("promotion.refused", "request_closed")


def test_after_a_cancel_the_same_move_can_be_asked_again(contributor, model, version):
    promotion = asked(version, actor=contributor)
    promotion_request_cancel(actor=contributor, promotion=promotion)

    again = asked(version, actor=contributor, justification="Now with a card.")

    assert again.state == RequestState.CHECKING
    assert again.pk != promotion.pk


def test_the_gate_finishing_after_a_cancel_leaves_the_request_cancelled(contributor, model):
    promotion = asked(ready_version(actor=contributor, model=model), actor=contributor)
    promotion_request_cancel(actor=contributor, promotion=promotion)

    gated(promotion)

    assert promotion.state == RequestState.CANCELLED
    assert promotion.gate_run.state == GateState.PASSED
