"""The stage door is a whole door: whoever moves a version (a page, the API, a rollback, the demo, a script
calling `version_transition` directly), the requests the move made stale are superseded in its own
transaction, by the listener promotions registers (registry.stage_listeners)."""

import pytest

from tests.factories import version_move
from tests.promotions.test_promotion_request import (
    asked,
    awaiting,
    global_policy,  # noqa: F401 - autouse fixture
    in_staging,
    ready_version,
)
from warehouse.audit.models import AuditEvent
from warehouse.promotions.models import RequestState
from warehouse.registry import stage_listeners
from warehouse.registry.models import ModelVersion, Stage
from warehouse.registry.services import version_transition


def test_a_move_made_straight_through_the_door_supersedes_the_versions_own_requests(contributor, model):
    draft = ready_version(actor=contributor, model=model)
    waiting = awaiting(draft, actor=contributor)

    version_transition(
        version=draft, to_stage=Stage.ARCHIVED, actor=contributor, reason="A script retires it."
    )

    waiting.refresh_from_db()
    assert waiting.state == RequestState.SUPERSEDED
    assert waiting.closed_reason == f"{draft.identifier} moved from Draft to Archived meanwhile."
    assert AuditEvent.objects.filter(action="promotion.superseded", actor=None).count() == 1


def test_a_new_production_version_supersedes_every_request_to_production(contributor, model):
    first, second = (in_staging(actor=contributor, model=model) for _ in range(2))
    to_production = asked(second, actor=contributor, to=Stage.PRODUCTION)

    version_move(first, Stage.PRODUCTION, actor=contributor)

    to_production.refresh_from_db()
    assert to_production.state == RequestState.SUPERSEDED
    assert to_production.closed_reason.startswith(f"{first.identifier} reached Production first")


def test_a_rollback_through_the_door_says_production_was_rolled_back(contributor, responder, model):
    first, second, candidate = (in_staging(actor=contributor, model=model) for _ in range(3))
    version_move(first, Stage.PRODUCTION, actor=contributor)
    version_move(second, Stage.PRODUCTION, actor=contributor)
    to_production = asked(candidate, actor=contributor, to=Stage.PRODUCTION)

    version_transition(
        version=ModelVersion.objects.get(pk=first.pk),
        to_stage=Stage.PRODUCTION,
        actor=responder,
        reason="INC-9",
    )

    to_production.refresh_from_db()
    assert to_production.state == RequestState.SUPERSEDED
    assert to_production.closed_reason == (
        f"Production was rolled back to {first.identifier}. Ask again so the gate compares "
        f"{candidate.identifier} against what is in production now."
    )


def test_a_listener_that_fails_undoes_the_move(contributor, model, monkeypatch):
    staged = in_staging(actor=contributor, model=model)

    def refuse(change):
        raise RuntimeError("a consequence could not be recorded")

    monkeypatch.setattr(stage_listeners, "_listeners", [*stage_listeners._listeners, refuse])
    with pytest.raises(RuntimeError):
        version_transition(
            version=staged,
            to_stage=Stage.PRODUCTION,
            actor=contributor,
            reason="Go.",
            expected_production=None,
        )

    assert ModelVersion.objects.get(pk=staged.pk).stage == Stage.STAGING
    assert (
        not AuditEvent.objects.filter(action="version.stage_changed", target_id=str(staged.pk))
        .filter(data__to="production")
        .exists()
    )
