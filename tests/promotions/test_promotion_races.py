"""Promotion races on PostgreSQL with real threads: two requests to Production for one model, and two last
sign-offs on one request. Each thread has its own connection and starts at a barrier (`at_once`), so the
writes really meet; whichever wins, the outcome is the same: one move, one production version, the loser
refused or superseded with its reason, and one linear audit chain."""

import pytest

from tests.factories import user_with_roles, version_move
from tests.promotions.test_promotion_request import (
    awaiting,
    global_policy,  # noqa: F401 - autouse fixture
    in_staging,
    rules_with,
)
from tests.registry.test_concurrency import assert_chain_verifies, at_once
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict
from warehouse.promotions.models import PromotionRequest, RequestState, SignOff
from warehouse.promotions.policies.services import policy_revise
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import ModelVersion, Stage, StageTransition


def approvers(team, count: int):
    return [user_with_roles(f"approver{index}", Role.APPROVER, teams=(team,)) for index in range(count)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("replacing", [False, True], ids=["first-production", "replacing-production"])
def test_two_requests_racing_to_production_execute_exactly_one(replacing, contributor, team, model, version):
    if replacing:
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    requests = [
        awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
        for _ in range(2)
    ]
    signers = approvers(team, 2)

    def load(index):
        return PromotionRequest.objects.get(pk=requests[index].pk), signers[index]

    def sign(loaded):
        promotion, signer = loaded
        return signoff_record(actor=signer, promotion=promotion, decision="approve", comment="Ship it.")

    results = at_once(sign, count=2, prepare=load)

    signed = [r for r in results if isinstance(r, SignOff)]
    refused = [r for r in results if not isinstance(r, SignOff)]
    assert len(signed) == 1, results
    assert len(refused) == 1 and isinstance(refused[0], Conflict), results
    assert refused[0].code == "request_closed"
    winner = PromotionRequest.objects.get(pk=signed[0].request_id)
    loser = PromotionRequest.objects.get(pk=next(p.pk for p in requests if p.pk != winner.pk))
    assert winner.state == RequestState.APPROVED
    assert loser.state == RequestState.SUPERSEDED
    assert loser.closed_reason == (
        f"{winner.version.identifier} reached Production first; ask again so the gate compares "
        f"{loser.version.identifier} against it."
    )
    assert not loser.signoffs.exists()
    production = list(ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION))
    assert production == [winner.version]
    assert production[0].rollback_target_id == (version.pk if replacing else None)
    assert ModelVersion.objects.get(pk=loser.version_id).stage == Stage.STAGING
    assert StageTransition.objects.filter(model=model, to_stage=Stage.PRODUCTION).count() == 1 + replacing
    assert AuditEvent.objects.filter(action="promotion.approved").count() == 1
    assert AuditEvent.objects.filter(action="signoff.refused", data__code="request_closed").count() == 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("required", [1, 2], ids=["one-approval", "second-of-two"])
def test_two_concurrent_last_sign_offs_execute_the_request_once(
    required, contributor, policy_admin, team, model, version
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    policy_revise(
        actor=policy_admin,
        model=model,
        rules_data=rules_with(staging_to_production={"signoffs": {"count": required, "roles": ["approver"]}}),
        reason=f"{required} approver(s).",
    )
    promotion = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    first, *racers = approvers(team, required + 1)
    if required == 2:
        signoff_record(actor=first, promotion=promotion, decision="approve")
    else:
        racers = [first, *racers]
    assert len(racers) == 2
    transitions_before = StageTransition.objects.count()

    def load(index):
        return PromotionRequest.objects.get(pk=promotion.pk), racers[index]

    def sign(loaded):
        fresh, signer = loaded
        return signoff_record(actor=signer, promotion=fresh, decision="approve", comment="Last one.")

    results = at_once(sign, count=2, prepare=load)

    signed = [r for r in results if isinstance(r, SignOff)]
    refused = [r for r in results if not isinstance(r, SignOff)]
    assert len(signed) == 1, results
    assert len(refused) == 1 and isinstance(refused[0], Conflict), results
    assert refused[0].code == "request_closed"
    assert SignOff.objects.filter(request=promotion).count() == required
    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert promotion.closed_by == signed[0].signer
    # One move: the candidate in, the old production version archived.
    assert StageTransition.objects.count() == transitions_before + 2
    candidate = ModelVersion.objects.get(pk=promotion.version_id)
    assert list(ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)) == [candidate]
    assert candidate.rollback_target_id == version.pk
    assert AuditEvent.objects.filter(action="promotion.approved").count() == 1
    refusal = AuditEvent.objects.get(action="signoff.refused")
    assert refusal.actor != signed[0].signer
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_policy_revised_while_the_last_signoff_is_given_leaves_one_consistent_outcome(
    contributor, approver, policy_admin, model, version
):
    from django.contrib.auth.models import User
    from guardian.shortcuts import assign_perm

    assign_perm("registry.admin_policy", policy_admin, model)
    request = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)

    def work(index):
        if index == 0:
            fresh = PromotionRequest.objects.select_related("model", "version__model").get(pk=request.pk)
            return signoff_record(actor=User.objects.get(pk=approver.pk), promotion=fresh, decision="approve")
        return policy_revise(
            actor=User.objects.get(pk=policy_admin.pk),
            model=model,
            rules_data=rules_with(),
            reason="Tightened while a sign-off was being given.",
        )

    at_once(work, count=2)
    request.refresh_from_db()
    moved = ModelVersion.objects.get(pk=request.version_id).stage == Stage.PRODUCTION
    # The sign-off came first (approved, moved) or the revision did (superseded, nothing moved); never both.
    assert (request.state, moved) in ((RequestState.APPROVED, True), (RequestState.SUPERSEDED, False))
    assert_chain_verifies()
