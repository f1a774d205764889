"""The whole promotion flow on the real database: Draft → Staging → Production under the demo policy, gate
runs executed as a worker would, sign-offs by distinct eligible people.

The demo (`manage.py seed_demo`) writes no policy of its own: its models run under the global default,
which the warehouse writes from the built-in `DEFAULT_RULES` on first use. That is the policy here: one
reviewer to Staging, one approver to Production, every check required for Production.
"""

import pytest
from django.core.exceptions import PermissionDenied

from tests.factories import version_register_for_tests
from tests.promotions.test_promotion_request import FULL_CARD
from tests.registry.test_concurrency import assert_chain_verifies
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import GateState, RequestState
from warehouse.promotions.policies.rules import DEFAULT_RULES
from warehouse.promotions.policies.services import policy_in_force
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import ModelVersion, Stage, StageTransition, TransitionKind


def _gate(promotion):
    assert gate_run_execute(run_id=promotion.gate_run_id) is not None
    promotion.refresh_from_db()
    return promotion


def _promote(version, *, requester, signer, to, justification):
    """One move under the default policy: ask, run the gate, one eligible sign-off."""
    promotion = promotion_request_open(
        actor=requester, version=version, target_stage=to, justification=justification
    )
    assert promotion.state == RequestState.CHECKING
    _gate(promotion)
    assert promotion.gate_run.state == GateState.PASSED, list(
        promotion.gate_run.results.exclude(status="passed").values_list("check_name", "status", "summary")
    )
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    # Four eyes: the requester, who registered the version too, may not sign it.
    with pytest.raises(PermissionDenied):
        signoff_record(actor=requester, promotion=promotion, decision="approve")
    signoff = signoff_record(actor=signer, promotion=promotion, decision="approve", comment="Looks right.")
    assert signoff.gate_run_id == promotion.gate_run_id
    promotion.refresh_from_db()
    version.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert version.stage == to
    return promotion


@pytest.mark.django_db
def test_it_promotes_draft_to_staging_to_production(contributor, reviewer, approver, model):
    version = version_register_for_tests(actor=contributor, model=model, card=FULL_CARD)
    to_staging = promotion_request_open(
        actor=contributor, version=version, target_stage=Stage.STAGING, justification="Better recall."
    )
    assert to_staging.state == RequestState.CHECKING
    _gate(to_staging)
    assert to_staging.gate_run.state == GateState.PASSED, list(
        to_staging.gate_run.results.values_list("check_name", "status", "summary")
    )
    assert to_staging.state == RequestState.AWAITING_SIGNOFF
    signoff_record(actor=reviewer, promotion=to_staging, decision="approve", comment="Looks right.")
    to_staging.refresh_from_db()
    version.refresh_from_db()
    assert to_staging.state == RequestState.APPROVED
    assert version.stage == Stage.STAGING

    to_production = promotion_request_open(
        actor=contributor, version=version, target_stage=Stage.PRODUCTION, justification="Ship it."
    )
    _gate(to_production)
    assert to_production.state == RequestState.AWAITING_SIGNOFF, list(
        to_production.gate_run.results.exclude(status="passed").values_list("check_name", "status", "summary")
    )
    signoff_record(actor=approver, promotion=to_production, decision="approve")
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION


@pytest.mark.django_db
def test_the_whole_flow_under_the_demo_policy_twice_replacing_production(
    contributor, reviewer, approver, model
):
    policy = policy_in_force(model=model)
    assert policy.policy.model is None  # the global default, as for every demo model
    assert (policy.rules, policy.author) == (DEFAULT_RULES.as_data(), None)

    first = version_register_for_tests(actor=contributor, model=model, card=FULL_CARD)
    staged = _promote(
        first, requester=contributor, signer=reviewer, to=Stage.STAGING, justification="Better recall."
    )
    # A reviewer signs for Staging only; the approver for Production.
    assert staged.signoffs.get().role == "reviewer"
    shipped = _promote(
        first, requester=contributor, signer=approver, to=Stage.PRODUCTION, justification="Ship it."
    )
    assert shipped.signoffs.get().role == "approver"
    first.refresh_from_db()
    assert first.rollback_target is None  # nothing was in production before

    second = version_register_for_tests(actor=contributor, model=model, card=FULL_CARD)
    _promote(second, requester=contributor, signer=reviewer, to=Stage.STAGING, justification="Retrained.")
    replacing = _promote(
        second, requester=contributor, signer=approver, to=Stage.PRODUCTION, justification="Beats v2."
    )

    assert replacing.gate_run.baseline == first  # the gate compared against what it replaces
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.stage, second.rollback_target) == (Stage.PRODUCTION, first)
    assert first.stage == Stage.ARCHIVED
    assert list(ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)) == [second]
    # Every gate run was judged under the default policy's revision.
    for promotion in (staged, shipped, replacing):
        assert promotion.gate_run.policy_revision == policy
    # The stage history links each promotion to the request that caused it.
    moves = StageTransition.objects.filter(model=model).order_by("pk")
    assert [(m.version_id, m.to_stage, m.kind) for m in moves] == [
        (first.pk, Stage.STAGING, TransitionKind.PROMOTION),
        (first.pk, Stage.PRODUCTION, TransitionKind.PROMOTION),
        (second.pk, Stage.STAGING, TransitionKind.PROMOTION),
        (first.pk, Stage.ARCHIVED, TransitionKind.REPLACED),
        (second.pk, Stage.PRODUCTION, TransitionKind.PROMOTION),
    ]
    assert moves.last().promotion_request == replacing
    # The trail of one request reads like a pull request's timeline.
    timeline = list(
        AuditEvent.objects.filter(data__promotion_request=replacing.pk)
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert timeline == ["promotion.requested", "signoff.recorded", "promotion.approved"]
    assert AuditEvent.objects.filter(action="permission.denied").count() == 4  # the four self-approvals
    assert_chain_verifies()
