"""Archiving a version: who may (Production needs the approver's permission), a reason always, and the open
requests the move makes stale are superseded in the same transaction."""

import pytest
from django.core.exceptions import PermissionDenied

from tests.factories import version_move
from tests.promotions.test_promotion_request import (
    after_refusal,
    asked,
    awaiting,
    global_policy,  # noqa: F401 - autouse fixture
    in_staging,
    ready_version,
    written,
)
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.models import RequestState
from warehouse.promotions.requests.services import version_archive
from warehouse.registry.models import ModelVersion, Stage, StageTransition, TransitionKind


@pytest.mark.parametrize("stages", [(), (Stage.STAGING,)], ids=["draft", "staging"])
def test_a_contributor_archives_a_draft_or_staging_version(stages, contributor, model, version):
    version_move(version, *stages, actor=contributor)
    from_stage = version.stage

    transition = version_archive(actor=contributor, version=version, reason="  Superseded by v2.  ")

    version.refresh_from_db()
    assert version.stage == Stage.ARCHIVED
    assert (transition.from_stage, transition.to_stage, transition.kind) == (
        from_stage,
        Stage.ARCHIVED,
        TransitionKind.ARCHIVE,
    )
    assert (transition.actor, transition.reason) == (contributor, "Superseded by v2.")
    event = AuditEvent.objects.filter(action="version.stage_changed").latest("sequence")
    assert (event.actor, event.data["to"]) == (contributor, "archived")
    assert event.data["reason"] == "Superseded by v2."


def test_an_approver_archives_the_production_version_and_nothing_is_in_production(
    contributor, approver, model, version
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    version_archive(actor=approver, version=version, reason="Retired: the product is gone.")

    version.refresh_from_db()
    assert version.stage == Stage.ARCHIVED
    assert not ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).exists()


def test_it_refuses_a_contributor_archiving_the_production_version(contributor, model, version):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    before = written()

    with pytest.raises(PermissionDenied, match="the production version of fraud-scorer"):
        version_archive(actor=contributor, version=version, reason="Tidying up.")

    event = after_refusal(before)
    assert (event.action, event.actor, event.data["permission"]) == (
        "permission.denied",
        contributor,
        "registry.archive_production",
    )
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION


@pytest.mark.parametrize("person", ["viewer", "reviewer", "responder", "policy_admin", "outsider"])
def test_it_refuses_someone_without_the_archive_permission(person, request, model, version):
    actor = request.getfixturevalue(person)
    before = written()

    with pytest.raises(PermissionDenied):
        version_archive(actor=actor, version=version, reason="Not mine to retire.")

    event = after_refusal(before)
    assert (event.action, event.data["permission"]) == ("permission.denied", "registry.archive_version")


@pytest.mark.parametrize("reason", ["", "   ", None, 12, "x" * 2001])
def test_it_refuses_an_archive_without_a_reason_and_writes_nothing(reason, contributor, model, version):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        version_archive(actor=contributor, version=version, reason=reason)

    assert list(refused.value.errors) == ["reason"]
    assert written() == before
    version.refresh_from_db()
    assert version.stage == Stage.DRAFT


def test_it_refuses_archiving_from_a_copy_read_before_the_version_reached_production(
    contributor, model, version
):
    # The page showed Staging, so only the Draft/Staging permission was checked.
    stale = ModelVersion.objects.select_related("model").get(pk=version.pk)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    stale.stage = Stage.STAGING
    before = written()

    with pytest.raises(Conflict) as refused:
        version_archive(actor=contributor, version=stale, reason="Tidying up.")

    assert refused.value.code == "stage_changed"
    event = after_refusal(before)
    assert (event.action, event.data["code"]) == ("version.stage_change_refused", "stage_changed")
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION


def test_it_refuses_archiving_an_archived_version_on_the_record(contributor, model, version):
    version_archive(actor=contributor, version=version, reason="Retired.")
    before = written()

    with pytest.raises(Conflict) as refused:
        version_archive(actor=contributor, version=version, reason="Retired again.")

    assert refused.value.code == "already_in_stage"
    event = after_refusal(before)
    assert (event.action, event.actor, event.data["code"]) == (
        "version.stage_change_refused",
        contributor,
        "already_in_stage",
    )


def test_archiving_supersedes_the_versions_open_requests(contributor, model):
    version = ready_version(actor=contributor, model=model)
    promotion = awaiting(version, actor=contributor)

    version_archive(actor=contributor, version=version, reason="Wrong training data.")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.SUPERSEDED
    assert promotion.closed_reason == f"{version.identifier} moved from Draft to Archived meanwhile."
    event = AuditEvent.objects.get(action="promotion.superseded")
    assert event.data == {
        "promotion_request": promotion.pk,
        "target_stage": promotion.target_stage,
        "requested_by": promotion.requested_by.username,
        "reason": promotion.closed_reason,
    }


def test_archiving_a_version_whose_request_is_still_checking_supersedes_it(contributor, model):
    version = in_staging(actor=contributor, model=model)
    promotion = asked(version, actor=contributor, to=Stage.PRODUCTION)

    version_archive(actor=contributor, version=version, reason="Wrong training data.")

    promotion.refresh_from_db()
    assert promotion.state == RequestState.SUPERSEDED
    assert "moved from Staging to Archived" in promotion.closed_reason


def test_archiving_the_production_version_supersedes_the_models_open_requests_to_production(
    contributor, approver, model, version
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    to_production = awaiting(
        in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION
    )
    to_staging = awaiting(ready_version(actor=contributor, model=model), actor=contributor)

    version_archive(actor=approver, version=version, reason="Scoring bug, pulled.")

    to_production.refresh_from_db()
    assert to_production.state == RequestState.SUPERSEDED
    assert to_production.closed_reason.startswith(
        f"Production changed meanwhile: {version.identifier} left it."
    )
    to_staging.refresh_from_db()
    assert to_staging.state == RequestState.AWAITING_SIGNOFF


def test_archiving_a_staging_version_leaves_other_requests_to_production_open(contributor, model):
    other = awaiting(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    retired = in_staging(actor=contributor, model=model)

    version_archive(actor=contributor, version=retired, reason="Not needed.")

    other.refresh_from_db()
    assert other.state == RequestState.AWAITING_SIGNOFF
    assert StageTransition.objects.filter(version=retired, to_stage=Stage.ARCHIVED).count() == 1
