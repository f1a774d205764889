"""The stage machine: `version_transition` is the one door, and it keeps DESIGN invariants 1, 2 and 6."""

import hashlib
import json

import pytest
from django.db import transaction

from tests.factories import version_move, version_register_for_tests
from warehouse.audit.chain import chain_verify
from warehouse.audit.models import AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry import services
from warehouse.registry.models import ModelVersion, ProductionAnswer, Stage, StageTransition, TransitionKind
from warehouse.registry.services import version_transition
from warehouse.registry.serving import production_answer_read

# From each stage, the path that reaches it from Draft.
PATH_TO = {
    Stage.DRAFT: (),
    Stage.STAGING: (Stage.STAGING,),
    Stage.PRODUCTION: (Stage.STAGING, Stage.PRODUCTION),
    Stage.ARCHIVED: (Stage.ARCHIVED,),
}
ALLOWED = [
    (Stage.DRAFT, Stage.STAGING),
    (Stage.STAGING, Stage.PRODUCTION),
    (Stage.PRODUCTION, Stage.ARCHIVED),
    (Stage.DRAFT, Stage.ARCHIVED),
    (Stage.STAGING, Stage.ARCHIVED),
]
# Every other pair, same-stage moves included. Archived → Production is refused here because nothing is in
# production; the rollback cases below cover it with something in production.
REFUSED = [(a, b) for a in Stage for b in Stage if (a, b) not in ALLOWED]


def _production(model):
    return ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).first()


def _promote(version, actor, reason="test"):
    return version_transition(
        version=version,
        to_stage=Stage.PRODUCTION,
        actor=actor,
        reason=reason,
        expected_production=_production(version.model),
    )


def _events(action, version=None):
    events = AuditEvent.objects.filter(action=action)
    if version is not None:
        events = events.filter(target_id=str(version.pk))
    return events


@pytest.mark.parametrize(("from_stage", "to_stage"), ALLOWED, ids=lambda stage: str(stage))
def test_it_makes_every_allowed_move(version, contributor, from_stage, to_stage):
    version_move(version, *PATH_TO[from_stage], actor=contributor)
    assert version.stage == from_stage

    transition = version_transition(
        version=version,
        to_stage=to_stage,
        actor=contributor,
        reason="  because the gate passed  ",
        expected_production=None,
    )

    version.refresh_from_db()
    assert version.stage == to_stage
    row = StageTransition.objects.get(pk=transition.pk)
    assert (row.version_id, row.from_stage, row.to_stage, row.actor_id, row.reason) == (
        version.pk,
        from_stage,
        to_stage,
        contributor.pk,
        "because the gate passed",
    )
    assert row.kind == (TransitionKind.ARCHIVE if to_stage == Stage.ARCHIVED else TransitionKind.PROMOTION)
    event = _events("version.stage_changed", version).order_by("-sequence").first()
    assert event.data["from"] == from_stage and event.data["to"] == to_stage
    assert event.actor_id == contributor.pk and event.model_name == "fraud-scorer"


@pytest.mark.parametrize(("from_stage", "to_stage"), REFUSED, ids=lambda stage: str(stage))
def test_it_refuses_every_other_move_and_changes_nothing(version, contributor, from_stage, to_stage):
    version_move(version, *PATH_TO[from_stage], actor=contributor)
    transitions_before = StageTransition.objects.count()
    changed_before = _events("version.stage_changed").count()
    stage_changed_at = version.stage_changed_at

    with pytest.raises(Conflict) as refused:
        version_transition(
            version=version, to_stage=to_stage, actor=contributor, reason="try it", expected_production=None
        )

    if from_stage == to_stage:
        assert refused.value.code == "already_in_stage"
        assert "already in" in refused.value.message
    elif from_stage == Stage.ARCHIVED and to_stage == Stage.PRODUCTION:
        assert refused.value.code == "no_production_version"
        assert "nothing in production to roll back from" in refused.value.message
    else:
        assert refused.value.code == "move_not_allowed"
        assert f"Allowed from {from_stage.label}:" in refused.value.message
        assert f"cannot move from {from_stage.label} to {to_stage.label}" in refused.value.message
    version.refresh_from_db()
    assert (version.stage, version.stage_changed_at) == (from_stage, stage_changed_at)
    assert StageTransition.objects.count() == transitions_before
    assert _events("version.stage_changed").count() == changed_before
    refusal = _events("version.stage_change_refused", version).get()
    assert refusal.data == {
        "from": from_stage.value,
        "to": to_stage.value,
        "code": refused.value.code,
        "message": refused.value.message,
    }
    assert refusal.actor_id == contributor.pk


def test_it_refuses_draft_to_production_with_the_moves_it_allows(version, contributor):
    with pytest.raises(Conflict) as refused:
        version_transition(
            version=version,
            to_stage=Stage.PRODUCTION,
            actor=contributor,
            reason="skip",
            expected_production=None,
        )

    assert refused.value.message == (
        "fraud-scorer/v1 cannot move from Draft to Production. Allowed from Draft: Archived, Staging."
    )


def test_it_requires_a_reason(version, contributor):
    with pytest.raises(InvalidInput) as refused:
        version_transition(version=version, to_stage=Stage.STAGING, actor=contributor, reason="   ")

    assert "reason" in refused.value.errors
    version.refresh_from_db()
    assert version.stage == Stage.DRAFT
    assert not StageTransition.objects.exists()


def test_it_requires_the_caller_to_state_what_it_replaces(version, contributor):
    version_move(version, Stage.STAGING, actor=contributor)

    with pytest.raises(TypeError):
        version_transition(version=version, to_stage=Stage.PRODUCTION, actor=contributor, reason="ship it")

    version.refresh_from_db()
    assert version.stage == Stage.STAGING


# --- One transaction -------------------------------------------------------------------------------------


def test_it_writes_the_transition_and_its_event_in_the_callers_transaction(version, contributor):
    events_before = AuditEvent.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        version_transition(version=version, to_stage=Stage.STAGING, actor=contributor, reason="ship it")
        assert StageTransition.objects.filter(version=version).exists()
        assert _events("version.stage_changed", version).exists()
        raise RuntimeError("the caller fails after the move")

    version.refresh_from_db()
    assert version.stage == Stage.DRAFT
    assert not StageTransition.objects.filter(version=version).exists()
    assert AuditEvent.objects.count() == events_before


def test_it_changes_nothing_when_the_audit_event_cannot_be_written(version, contributor, monkeypatch):
    def audit_fails(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit_record", audit_fails)

    with pytest.raises(RuntimeError):
        version_transition(version=version, to_stage=Stage.STAGING, actor=contributor, reason="ship it")

    assert ModelVersion.objects.get(pk=version.pk).stage == Stage.DRAFT
    assert not StageTransition.objects.filter(version=version).exists()


# --- Promotion replacing production ----------------------------------------------------------------------


def test_it_archives_the_replaced_version(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)

    _promote(second, contributor, reason="better auc")

    version.refresh_from_db()
    second.refresh_from_db()
    assert (version.stage, second.stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    assert version.rolled_back_at is None
    replaced = StageTransition.objects.get(version=version, to_stage=Stage.ARCHIVED)
    assert replaced.kind == TransitionKind.REPLACED
    assert replaced.reason == "Replaced by fraud-scorer/v2: better auc"
    assert ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).count() == 1


def test_it_records_the_replaced_version_as_the_rollback_target(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)

    _promote(second, contributor)

    second.refresh_from_db()
    assert second.rollback_target_id == version.pk
    event = _events("version.stage_changed", second).order_by("-sequence").first()
    assert event.data["rollback_target"] == "fraud-scorer/v1"
    assert version.rollback_target_id is None


def test_it_refuses_a_promotion_when_production_changed(model, version, contributor):
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    # The promotion of v2 was decided while nothing was in production.
    with pytest.raises(Conflict) as refused:
        version_transition(
            version=second,
            to_stage=Stage.PRODUCTION,
            actor=contributor,
            reason="ship it",
            expected_production=None,
        )

    assert refused.value.code == "production_changed"
    assert "fraud-scorer/v1 is in production now" in refused.value.message
    assert _production(model).pk == version.pk
    assert ModelVersion.objects.get(pk=second.pk).stage == Stage.STAGING
    assert _events("version.stage_change_refused", second).get().data["code"] == "production_changed"


def test_it_refuses_a_promotion_that_expected_another_production_version(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    third = version_register_for_tests(actor=contributor, model=model)
    version_move(third, Stage.STAGING, actor=contributor)

    with pytest.raises(Conflict) as refused:
        version_transition(
            version=third,
            to_stage=Stage.PRODUCTION,
            actor=contributor,
            reason="ship it",
            expected_production=version,
        )

    assert refused.value.code == "production_changed"
    assert _production(model).pk == second.pk


def test_it_refuses_a_stale_promotion_of_a_version_that_was_replaced_meanwhile(model, version, contributor):
    version_move(version, Stage.STAGING, actor=contributor)
    seen_in_staging = ModelVersion.objects.get(pk=version.pk)
    # Meanwhile v1 went to production and v2 replaced it: v1 is now v2's rollback target.
    version_move(version, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    with pytest.raises(Conflict) as refused:
        version_transition(
            version=seen_in_staging,
            to_stage=Stage.PRODUCTION,
            actor=contributor,
            reason="ship it",
            expected_production=None,
        )

    # A promotion decided on an old view must not roll production back by accident.
    assert refused.value.code == "production_changed"
    assert _production(model).pk == second.pk


# --- Rollback --------------------------------------------------------------------------------------------


@pytest.fixture
def three_releases(model, version, contributor):
    """v1, v2 and v3 each promoted in turn: v3 in production, v2 its rollback target, v1 v2's."""
    second = version_register_for_tests(actor=contributor, model=model)
    third = version_register_for_tests(actor=contributor, model=model)
    for release in (version, second, third):
        version_move(release, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    return version, second, third


def test_it_rolls_back_to_the_recorded_rollback_target(three_releases, responder):
    first, second, third = three_releases

    transition = version_transition(
        version=second, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7: error rate"
    )

    for release in three_releases:
        release.refresh_from_db()
    assert (first.stage, second.stage, third.stage) == (Stage.ARCHIVED, Stage.PRODUCTION, Stage.ARCHIVED)
    assert transition.kind == TransitionKind.ROLLBACK
    assert (transition.from_stage, transition.to_stage) == (Stage.ARCHIVED, Stage.PRODUCTION)
    rolled_back = StageTransition.objects.get(version=third, kind=TransitionKind.ROLLED_BACK)
    assert (rolled_back.from_stage, rolled_back.to_stage, rolled_back.actor_id) == (
        Stage.PRODUCTION,
        Stage.ARCHIVED,
        responder.pk,
    )
    assert _events("version.stage_changed", second).order_by("-sequence").first().data["kind"] == "rollback"


def test_it_marks_the_rolled_back_version(three_releases, responder):
    first, second, third = three_releases

    version_transition(version=second, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7")

    third.refresh_from_db()
    assert third.stage == Stage.ARCHIVED
    assert third.rolled_back_at is not None
    assert third.rolled_back_at == third.stage_changed_at


def test_it_keeps_the_restored_versions_own_rollback_target(three_releases, responder):
    first, second, third = three_releases

    version_transition(version=second, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7")

    second.refresh_from_db()
    assert second.rollback_target_id == first.pk
    # ...so a second rollback goes one step further back.
    version_transition(version=first, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7 again")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == (Stage.PRODUCTION, Stage.ARCHIVED)
    assert second.rolled_back_at is not None


def test_it_refuses_a_rollback_to_a_version_that_is_not_the_rollback_target(three_releases, responder):
    first, second, third = three_releases

    with pytest.raises(Conflict) as refused:
        version_transition(version=first, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7")

    assert refused.value.code == "not_rollback_target"
    assert refused.value.message == (
        "fraud-scorer/v1 is not the rollback target of fraud-scorer/v3 "
        "(its recorded target is fraud-scorer/v2)."
    )
    third.refresh_from_db()
    assert third.stage == Stage.PRODUCTION and third.rolled_back_at is None
    assert _events("version.stage_change_refused", first).get().data["code"] == "not_rollback_target"


def test_it_refuses_a_rollback_to_an_archived_draft(model, version, contributor, responder):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    never_served = version_register_for_tests(actor=contributor, model=model)
    version_move(never_served, Stage.ARCHIVED, actor=contributor)

    with pytest.raises(Conflict) as refused:
        version_transition(version=never_served, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7")

    assert refused.value.code == "not_rollback_target"
    assert "its recorded target is none" in refused.value.message
    assert _production(model).pk == version.pk


def test_it_refuses_a_rollback_when_nothing_is_in_production(model, version, contributor, responder):
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    version_move(second, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED, actor=contributor)

    with pytest.raises(Conflict) as refused:
        version_transition(version=version, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7")

    assert refused.value.code == "no_production_version"
    assert refused.value.message == "fraud-scorer has nothing in production to roll back from."
    assert _production(model) is None


def test_it_refuses_a_rollback_when_the_caller_expected_another_production(three_releases, responder):
    first, second, third = three_releases

    with pytest.raises(Conflict) as refused:
        version_transition(
            version=second,
            to_stage=Stage.PRODUCTION,
            actor=responder,
            reason="INC-7",
            expected_production=first,
        )

    assert refused.value.code == "production_changed"
    assert _production(third.model).pk == third.pk


# --- The production answer: written by the door, in the change's own transaction -------------------------


def _answer(model) -> dict | None:
    answer = production_answer_read(name=model.name)
    return json.loads(answer.body) if answer.in_production else None


def _generation(model) -> int:
    return production_answer_read(name=model.name).generation


def test_it_writes_the_production_answer_with_the_promotion(model, version, contributor):
    version_move(version, Stage.STAGING, actor=contributor)
    assert _answer(model) is None and _generation(model) == 0  # nothing written: production untouched

    _promote(version, contributor)

    stored = ProductionAnswer.objects.get(model=model)
    answer = json.loads(stored.body)
    assert (answer["version"], answer["id"], answer["rollback_target"], stored.generation) == (
        1,
        "fraud-scorer/v1",
        None,
        1,
    )
    assert [a["sha256"] for a in answer["artifacts"]] == ["cd" * 32, "ab" * 32]
    assert stored.etag == f'"{hashlib.sha256(stored.body.encode()).hexdigest()[:32]}"'


def test_each_production_change_takes_the_next_generation(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    assert _generation(model) == 1  # a move to Staging leaves production's answer alone

    _promote(second, contributor)

    assert (_answer(model)["version"], _answer(model)["rollback_target"], _generation(model)) == (
        2,
        "fraud-scorer/v1",
        2,
    )


def test_it_answers_the_restored_version_after_a_rollback(three_releases, responder):
    first, second, third = three_releases
    before = _generation(third.model)

    version_transition(version=second, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-7")

    answer = _answer(third.model)
    assert (answer["version"], answer["rollback_target"]) == (2, "fraud-scorer/v1")
    assert _generation(third.model) == before + 1


def test_it_answers_nothing_once_production_is_retired(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    version_transition(version=version, to_stage=Stage.ARCHIVED, actor=contributor, reason="retired")

    stored = ProductionAnswer.objects.get(model=model)
    assert (stored.body, stored.etag, stored.version, stored.generation) == ("", "", None, 2)


def test_a_refused_move_leaves_the_answer_as_it_was(three_releases, responder):
    first, second, third = three_releases
    before = ProductionAnswer.objects.get(model=third.model)

    with pytest.raises(Conflict):
        version_transition(version=first, to_stage=Stage.PRODUCTION, actor=responder, reason="not the target")

    after = ProductionAnswer.objects.get(model=third.model)
    assert (after.generation, after.body) == (before.generation, before.body)


def test_the_answer_is_rolled_back_with_the_callers_transaction(model, version, contributor):
    version_move(version, Stage.STAGING, actor=contributor)

    with pytest.raises(RuntimeError), transaction.atomic():
        _promote(version, contributor)
        assert _answer(model)["version"] == 1  # written inside the transaction...
        raise RuntimeError("the caller fails after the move")

    assert _answer(model) is None  # ...and gone with it
    assert _generation(model) == 0


def test_a_caller_that_handles_a_refusal_in_its_own_transaction_keeps_it_on_the_record(
    model, version, contributor
):
    # As the promotion service will: one transaction, the refusal caught, the caller's own outcome saved.
    with transaction.atomic():
        try:
            version_transition(
                version=version,
                to_stage=Stage.PRODUCTION,
                actor=contributor,
                reason="skip",
                expected_production=None,
            )
        except Conflict:
            audit_record(actor=contributor, action="test.request_superseded", model_name=model.name)

    actions = list(AuditEvent.objects.order_by("-sequence").values_list("action", flat=True)[:2])
    assert actions == ["test.request_superseded", "version.stage_change_refused"]
    assert chain_verify(audit_events_in_sequence()).ok
