"""The whole promotion flow on the real database: Draft → Staging → Production under the default policy,
gate runs executed as a worker would, sign-offs by distinct eligible people."""

import pytest
from django.core.exceptions import PermissionDenied
from guardian.shortcuts import assign_perm

from tests.factories import user_with_roles, version_move, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.models import GateState, RequestState, SignOff
from warehouse.promotions.services import (
    gate_run_execute,
    policy_revise,
    promotion_request,
    signoff_record,
)
from warehouse.registry.models import Stage


def _gate(promotion):
    assert gate_run_execute(run_id=promotion.gate_run_id) is not None
    promotion.refresh_from_db()
    return promotion


@pytest.mark.django_db
def test_it_promotes_draft_to_staging_to_production(contributor, reviewer, approver, model):
    version = version_register_for_tests(
        actor=contributor,
        model=model,
        card={
            "task": "Scores card payments for fraud.",
            "known_failures": "New merchants in their first week.",
            "owners_contacts": "fraud-ml@example.com",
        },
    )
    to_staging = promotion_request(
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

    to_production = promotion_request(
        actor=contributor, version=version, target_stage=Stage.PRODUCTION, justification="Ship it."
    )
    _gate(to_production)
    assert to_production.state == RequestState.AWAITING_SIGNOFF, list(
        to_production.gate_run.results.exclude(status="passed").values_list("check_name", "status", "summary")
    )
    signoff_record(actor=approver, promotion=to_production, decision="approve")
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION


# --- Refusals: each a 403 or a Conflict, on the record, writing nothing else ------------------------------

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


def _requested(contributor, model, *, run_gate=True):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD)
    promotion = promotion_request(
        actor=contributor, version=version, target_stage=Stage.STAGING, justification="Ready."
    )
    if run_gate:
        _gate(promotion)
    return promotion


def _refused(promotion, actor, error, *, audit_action, **signoff):
    events = AuditEvent.objects.count()
    with pytest.raises(error) as raised:
        signoff_record(actor=actor, promotion=promotion, **signoff)
    assert not SignOff.objects.filter(request=promotion, signer=actor).exists()
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.order_by("-sequence").first().action == audit_action
    return raised.value


@pytest.mark.django_db
def test_it_refuses_a_signer_without_the_role(contributor, approver, model):
    promotion = _requested(contributor, model)
    error = _refused(
        promotion, approver, PermissionDenied, audit_action="permission.denied", decision="approve"
    )
    assert "reviewer role" in str(error)


@pytest.mark.django_db
def test_it_refuses_the_requester_and_the_registrant(contributor, team, reviewer, model):
    requester = user_with_roles("rex", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))
    version = version_register_for_tests(actor=requester, model=model, card=CARD)
    promotion = promotion_request(
        actor=requester, version=version, target_stage=Stage.STAGING, justification="Go."
    )
    _gate(promotion)
    error = _refused(
        promotion, requester, PermissionDenied, audit_action="permission.denied", decision="approve"
    )
    assert "four eyes" in str(error)
    registrant_only = _requested(requester, model)  # registered and asked by rex
    registrant_only.requested_by = contributor
    registrant_only.save(update_fields=["requested_by"])
    error = _refused(
        registrant_only, requester, PermissionDenied, audit_action="permission.denied", decision="approve"
    )
    assert "registered this version" in str(error)


@pytest.mark.django_db
def test_it_refuses_approval_before_the_gate_passed(contributor, reviewer, model):
    promotion = _requested(contributor, model, run_gate=False)
    error = _refused(
        promotion, reviewer, PermissionDenied, audit_action="permission.denied", decision="approve"
    )
    assert "gate has not passed" in str(error)


@pytest.mark.django_db
def test_it_refuses_a_second_signoff_by_the_same_person(contributor, reviewer, superuser, model):
    policy_revise(
        actor=superuser,
        model=model,
        rules_data={
            "draft_to_staging": {"signoffs": {"count": 2, "roles": ["reviewer"]}},
            "staging_to_production": {},
        },
        reason="Two reviewers.",
    )
    promotion = _requested(contributor, model)
    signoff_record(actor=reviewer, promotion=promotion, decision="approve")
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict) as raised:
        signoff_record(actor=reviewer, promotion=promotion, decision="approve")
    assert raised.value.code == "already_signed"
    assert SignOff.objects.filter(request=promotion).count() == 1
    assert AuditEvent.objects.count() == events + 1


@pytest.mark.django_db
def test_it_refuses_a_rejection_without_a_comment_writing_nothing(contributor, reviewer, model):
    promotion = _requested(contributor, model)
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as raised:
        signoff_record(actor=reviewer, promotion=promotion, decision="reject", comment="  ")
    assert "comment" in raised.value.errors
    assert AuditEvent.objects.count() == events and not SignOff.objects.exists()


@pytest.mark.django_db
def test_override_needs_the_permission_and_a_justification(contributor, reviewer, team, model, superuser):
    policy_revise(
        actor=superuser,
        model=model,
        rules_data={
            "draft_to_staging": {
                "metric_bars": [{"metric": "auc", "op": ">=", "value": 0.99}],
                "required_checks": ["metric_bars"],
            },
            "staging_to_production": {},
        },
        reason="An impossible bar.",
    )
    promotion = _requested(contributor, model)
    assert promotion.state == RequestState.CHECKS_FAILED
    _refused(
        promotion,
        reviewer,
        PermissionDenied,
        audit_action="permission.denied",
        decision="approve",
        override=True,
        comment="Known issue, accepted.",
    )
    overrider = user_with_roles("olga", Role.REVIEWER, teams=(team,))
    assign_perm("registry.override_gate", overrider, model)
    with pytest.raises(InvalidInput):
        signoff_record(actor=overrider, promotion=promotion, decision="approve", override=True, comment="")
    signoff_record(
        actor=overrider,
        promotion=promotion,
        decision="approve",
        override=True,
        comment="Known issue, accepted.",
    )
    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED and promotion.overridden
    assert "gate overridden" in promotion.transition.reason


@pytest.mark.django_db
def test_a_policy_revised_mid_review_supersedes_the_request(contributor, reviewer, superuser, model):
    promotion = _requested(contributor, model)
    policy_revise(
        actor=superuser,
        model=model,
        rules_data={"draft_to_staging": {}, "staging_to_production": {}},
        reason="Tightened.",
    )
    promotion.refresh_from_db()
    assert promotion.state == RequestState.SUPERSEDED
    assert "policy changed" in promotion.closed_reason
    with pytest.raises(Conflict) as raised:
        signoff_record(actor=reviewer, promotion=promotion, decision="approve")
    assert raised.value.code == "request_closed"
    promotion.version.refresh_from_db()
    assert promotion.version.stage == Stage.DRAFT


@pytest.mark.django_db
def test_promoting_to_production_archives_the_old_one_as_rollback_target(
    contributor, approver, model, version
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    candidate = version_register_for_tests(actor=contributor, model=model, card=CARD)
    version_move(candidate, Stage.STAGING, actor=contributor)
    rival = version_register_for_tests(actor=contributor, model=model, card=CARD)
    version_move(rival, Stage.STAGING, actor=contributor)
    winner = promotion_request(
        actor=contributor, version=candidate, target_stage=Stage.PRODUCTION, justification="A"
    )
    loser = promotion_request(
        actor=contributor, version=rival, target_stage=Stage.PRODUCTION, justification="B"
    )
    _gate(winner)
    _gate(loser)
    signoff_record(actor=approver, promotion=winner, decision="approve")
    candidate.refresh_from_db()
    version.refresh_from_db()
    loser.refresh_from_db()
    assert candidate.stage == Stage.PRODUCTION and candidate.rollback_target_id == version.pk
    assert version.stage == Stage.ARCHIVED
    assert loser.state == RequestState.SUPERSEDED and "reached Production first" in loser.closed_reason
