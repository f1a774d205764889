"""Sign-off races on PostgreSQL with real threads, each on its own connection, released at a barrier.

Two requests racing to Production for one model: exactly one executes, the other is superseded with a
reason. Two last sign-offs on one request at once: one sign-off executes the move, the other is told the
request is already decided. SQLite serialises every writer on its file lock, which proves nothing here.
"""

import pytest
from django.contrib.auth.models import User
from guardian.shortcuts import assign_perm

from tests.factories import user_with_roles, version_move, version_register_for_tests
from tests.registry.test_concurrency import assert_chain_verifies, at_once
from warehouse.accounts.roles import Role
from warehouse.errors import Conflict
from warehouse.promotions.models import PromotionRequest, RequestState, SignOff
from warehouse.promotions.services import (
    gate_run_execute,
    policy_revise,
    promotion_request,
    signoff_record,
)
from warehouse.registry.models import ModelVersion, Stage, StageTransition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


def _awaiting_production(contributor, model):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD)
    version_move(version, Stage.STAGING, actor=contributor)
    promotion = promotion_request(
        actor=contributor, version=version, target_stage=Stage.PRODUCTION, justification="Ship it."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    return promotion


def _fresh(promotion_id: int) -> PromotionRequest:
    return PromotionRequest.objects.select_related("model", "version__model").get(pk=promotion_id)


def test_two_requests_racing_to_production_one_executes_the_other_is_superseded(
    model, version, contributor, approver, team
):
    first = _awaiting_production(contributor, model)
    second = _awaiting_production(contributor, model)
    other_approver = user_with_roles("otto", Role.APPROVER, teams=(team,))
    signers = [approver, other_approver]
    ids = [first.pk, second.pk]

    def prepare(index):
        return User.objects.get(pk=signers[index].pk), _fresh(ids[index])

    def sign(arguments):
        signer, promotion = arguments
        return signoff_record(actor=signer, promotion=promotion, decision="approve", comment="Approved.")

    results = at_once(sign, count=2, prepare=prepare)
    states = sorted(PromotionRequest.objects.filter(pk__in=ids).values_list("state", flat=True))
    assert states == [RequestState.APPROVED, RequestState.SUPERSEDED], results
    loser = PromotionRequest.objects.get(pk__in=ids, state=RequestState.SUPERSEDED)
    assert "Production" in loser.closed_reason
    assert ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).count() == 1
    winner = PromotionRequest.objects.get(pk__in=ids, state=RequestState.APPROVED)
    assert ModelVersion.objects.get(model=model, stage=Stage.PRODUCTION).pk == winner.version_id
    assert StageTransition.objects.filter(model=model, to_stage=Stage.PRODUCTION).count() == 1
    assert_chain_verifies()


def test_two_last_signoffs_at_once_execute_the_move_once(
    model, version, contributor, approver, team, superuser
):
    # Two approvals needed; one is given, then two approvers give the second at the same moment.
    policy_revise(
        actor=superuser,
        model=model,
        rules_data={
            "draft_to_staging": {},
            "staging_to_production": {"signoffs": {"count": 2, "roles": ["approver"]}},
        },
        reason="Two approvers for Production.",
    )
    promotion = _awaiting_production(contributor, model)
    signoff_record(actor=approver, promotion=promotion, decision="approve")
    late = [user_with_roles(f"late-approver-{n}", Role.APPROVER, teams=(team,)) for n in range(2)]

    def prepare(index):
        return User.objects.get(pk=late[index].pk), _fresh(promotion.pk)

    def sign(arguments):
        signer, fresh = arguments
        return signoff_record(actor=signer, promotion=fresh, decision="approve")

    results = at_once(sign, count=2, prepare=prepare)
    refused = [result for result in results if isinstance(result, Conflict)]
    assert len(refused) == 1 and refused[0].code == "request_closed", results
    assert SignOff.objects.filter(request=promotion).count() == 2
    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert StageTransition.objects.filter(model=model, to_stage=Stage.PRODUCTION).count() == 1
    assert ModelVersion.objects.get(pk=promotion.version_id).stage == Stage.PRODUCTION
    assert_chain_verifies()


def test_a_policy_revised_while_a_signoff_is_being_given_leaves_one_consistent_outcome(
    model, version, contributor, approver, policy_admin, team
):
    assign_perm("registry.admin_policy", policy_admin, model)
    promotion = _awaiting_production(contributor, model)

    def work(index):
        if index == 0:
            return signoff_record(
                actor=User.objects.get(pk=approver.pk), promotion=_fresh(promotion.pk), decision="approve"
            )
        return policy_revise(
            actor=User.objects.get(pk=policy_admin.pk),
            model=model,
            rules_data={"draft_to_staging": {}, "staging_to_production": {}},
            reason="Tightened.",
        )

    at_once(work, count=2)
    promotion.refresh_from_db()
    moved = ModelVersion.objects.get(pk=promotion.version_id).stage == Stage.PRODUCTION
    # Either the sign-off came first (approved and moved) or the revision did (superseded, nothing moved).
    assert (promotion.state, moved) in ((RequestState.APPROVED, True), (RequestState.SUPERSEDED, False))
    assert_chain_verifies()
