"""A policy change while requests wait supersedes those whose move it changes: their gate was judged under
rules no longer in force, so a new gate run is needed. The reason is on the request and in the audit trail;
signing afterwards is refused. Requests for a move whose rules stay the same are kept, and may be signed."""

import pytest

from tests.factories import model_create_for_tests, version_register_for_tests
from tests.promotions.test_promotion_request import (
    FULL_CARD,
    after_refusal,
    asked,
    awaiting,
    checks_failed,
    gated,
    global_policy,  # noqa: F401 - autouse fixture
    in_staging,
    ready_version,
    rules_with,
    written,
)
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict
from warehouse.promotions.models import GateRun, GateState, RequestState, SignOff
from warehouse.promotions.policies.services import policy_revise
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import Stage


def tighter(**fields) -> dict:
    """Staging → Production gets a latency budget; Draft → Staging stays as it was."""
    return rules_with(staging_to_production={"latency_p95_ms_max": 50.0, **fields})


def tighter_staging(**fields) -> dict:
    """Draft → Staging gets a latency budget (the versions' p95 of 9.5 ms is within it)."""
    return rules_with(draft_to_staging={"latency_p95_ms_max": 50.0, **fields})


def test_revising_one_moves_rules_supersedes_the_open_requests_for_that_move_only(
    contributor, policy_admin, model, version
):
    failed = checks_failed(version, actor=contributor)
    waiting = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    checking = asked(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)

    revision = policy_revise(actor=policy_admin, model=model, rules_data=tighter(), reason="Latency budget.")

    expected = (
        f"The promotion policy changed its rules for Staging → Production (revision {revision.number}: "
        "Latency budget.) while this request was open. "
        "Ask again: a new gate run under the new rules is needed."
    )
    for promotion in (failed, checking):
        promotion.refresh_from_db()
        assert promotion.state == RequestState.SUPERSEDED
        assert (promotion.closed_by, promotion.closed_reason) == (None, expected)
        assert promotion.closed_at is not None
    # The request to Staging was judged under rules for Draft → Staging that did not change.
    waiting.refresh_from_db()
    assert (waiting.state, waiting.closed_reason) == (RequestState.AWAITING_SIGNOFF, "")
    assert revision.superseded_requests == [failed, checking]
    events = AuditEvent.objects.filter(action="promotion.superseded").order_by("sequence")
    assert [e.data["promotion_request"] for e in events] == sorted(p.pk for p in (failed, checking))
    assert all(e.data["reason"] == expected and e.actor is None for e in events)
    assert {e.data["requested_by"] for e in events} == {contributor.username}
    assert {e.data["target_stage"] for e in events} == {"production"}
    revised = AuditEvent.objects.get(action="policy.revised", actor=policy_admin)
    assert revised.data["superseded"] == [failed.pk, checking.pk]
    assert revised.sequence < events.first().sequence


def test_a_request_for_an_unchanged_move_is_still_signed_and_approved(
    contributor, reviewer, policy_admin, model
):
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    revision = policy_revise(actor=policy_admin, model=model, rules_data=tighter(), reason="Latency budget.")
    assert revision.superseded_requests == []

    signoff_record(actor=reviewer, promotion=promotion, decision="approve", comment="Looks right.")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert promotion.version.stage == Stage.STAGING
    # The sign-off is bound to the gate run that ran under the earlier revision.
    assert promotion.gate_run.policy_revision != revision


def test_saving_the_same_rules_again_supersedes_nothing(contributor, policy_admin, model):
    policy_revise(actor=policy_admin, model=model, rules_data=tighter(), reason="Latency budget.")
    checking = asked(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)

    again = policy_revise(actor=policy_admin, model=model, rules_data=tighter(), reason="Reworded reason.")

    checking.refresh_from_db()
    assert again.superseded_requests == []
    assert checking.state == RequestState.CHECKING


def test_revising_the_policy_leaves_closed_requests_alone(contributor, reviewer, policy_admin, model):
    approved = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    signoff_record(actor=reviewer, promotion=approved, decision="approve")

    policy_revise(actor=policy_admin, model=model, rules_data=tighter(), reason="Latency budget.")

    approved.refresh_from_db()
    assert approved.state == RequestState.APPROVED
    assert not AuditEvent.objects.filter(action="promotion.superseded").exists()


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_sign_off_after_the_policy_changed_is_refused(decision, contributor, reviewer, policy_admin, model):
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    policy_revise(actor=policy_admin, model=model, rules_data=tighter_staging(), reason="Latency budget.")
    before = written()

    with pytest.raises(Conflict) as refused:
        signoff_record(
            actor=reviewer, promotion=promotion, decision=decision, comment="Reviewed the old gate."
        )

    assert refused.value.code == "request_closed"
    assert "superseded: The promotion policy changed" in refused.value.message
    event = after_refusal(before)
    assert (event.action, event.actor, event.data["code"]) == ("signoff.refused", reviewer, "request_closed")
    promotion.refresh_from_db()
    assert promotion.version.stage == Stage.DRAFT


def test_the_gate_finishing_after_the_policy_changed_leaves_the_request_superseded(
    contributor, policy_admin, model
):
    promotion = asked(ready_version(actor=contributor, model=model), actor=contributor)
    revision = policy_revise(
        actor=policy_admin, model=model, rules_data=tighter_staging(), reason="Latency budget."
    )

    gated(promotion)

    assert promotion.state == RequestState.SUPERSEDED
    # The run itself still ran, under the rules in force when it started.
    assert (promotion.gate_run.state, promotion.gate_run.policy_revision) == (GateState.PASSED, revision)


def test_asking_again_after_supersession_is_judged_under_the_new_rules(
    contributor, reviewer, policy_admin, model
):
    version = ready_version(actor=contributor, model=model)
    old = awaiting(version, actor=contributor)
    revision = policy_revise(
        actor=policy_admin,
        model=model,
        # The version's p95 is 9.5 ms.
        rules_data=rules_with(
            draft_to_staging={
                "latency_p95_ms_max": 5.0,
                "required_checks": ["source_run", "artifacts", "evaluation", "owner", "latency"],
            }
        ),
        reason="Staging must be fast too.",
    )

    again = gated(asked(version, actor=contributor, justification="Again, under the new rules."))

    assert again.pk != old.pk
    assert again.gate_run != old.gate_run
    assert again.gate_run.policy_revision == revision
    assert again.state == RequestState.CHECKS_FAILED
    assert again.gate_run.results.get(check_name="latency").status == "failed"


def test_revising_the_global_default_supersedes_requests_of_models_on_the_default_only(
    contributor, superuser, policy_admin, team, model
):
    on_default = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    own_model = model_create_for_tests(actor=contributor, name="churn-predictor", team=team)
    policy_revise(actor=policy_admin, model=own_model, rules_data=tighter(), reason="Own rules.")
    on_own = awaiting(
        version_register_for_tests(actor=contributor, model=own_model, card=FULL_CARD), actor=contributor
    )

    revision = policy_revise(
        actor=superuser, model=None, rules_data=tighter_staging(), reason="Org-wide latency."
    )

    on_default.refresh_from_db()
    on_own.refresh_from_db()
    assert on_default.state == RequestState.SUPERSEDED
    assert f"(revision {revision.number}: Org-wide latency.)" in on_default.closed_reason
    assert on_own.state == RequestState.AWAITING_SIGNOFF


def test_revising_one_models_policy_leaves_other_models_requests_open(contributor, policy_admin, team, model):
    other_model = model_create_for_tests(actor=contributor, name="churn-predictor", team=team)
    other = awaiting(
        version_register_for_tests(actor=contributor, model=other_model, card=FULL_CARD), actor=contributor
    )

    policy_revise(actor=policy_admin, model=model, rules_data=tighter(), reason="Only fraud-scorer.")

    other.refresh_from_db()
    assert other.state == RequestState.AWAITING_SIGNOFF


def test_a_request_judged_under_an_older_revision_is_superseded_when_someone_signs(
    contributor, reviewer, policy_admin, model
):
    # The window policy_revise cannot close: the worker read revision 1, the policy moved to revision 2 while
    # the checks ran, and a request joined the running gate after the revision. Its gate finished under
    # revision 1 while revision 2 is in force.
    first = policy_revise(actor=policy_admin, model=model, rules_data=tighter_staging(), reason="First.")
    policy_revise(
        actor=policy_admin, model=model, rules_data=tighter_staging(cost_per_1k_max=1.0), reason="Second."
    )
    promotion = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    GateRun.objects.filter(pk=promotion.gate_run_id).update(policy_revision=first)

    with pytest.raises(Conflict) as refused:
        signoff_record(actor=reviewer, promotion=promotion, decision="approve")

    assert refused.value.code == "policy_changed"
    assert not SignOff.objects.exists()
    promotion.refresh_from_db()
    assert promotion.state == RequestState.SUPERSEDED
    assert "now revision 2" in promotion.closed_reason
    superseded = AuditEvent.objects.filter(
        action="promotion.superseded", data__promotion_request=promotion.pk
    )
    assert superseded.exists()
    assert AuditEvent.objects.filter(action="signoff.refused", data__code="policy_changed").exists()
