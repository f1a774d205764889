"""Two responders roll back at once (PostgreSQL, real threads released at a barrier): one rollback
happens, and the other is told it already happened. Nothing is rolled back twice."""

import pytest
from django.contrib.auth.models import User

from tests.factories import user_with_roles, version_move, version_register_for_tests
from tests.registry.test_concurrency import assert_chain_verifies, at_once
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict
from warehouse.incidents.rollback import production_rollback
from warehouse.registry.models import ModelVersion, Stage, StageTransition, TransitionKind


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_responders_rolling_back_at_once_roll_back_once(model, version, contributor, responder, team):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = user_with_roles("sam", Role.INCIDENT_RESPONDER, teams=(team,))
    responders = [responder, second]

    def prepare(index):
        # Each responder looked at the page and saw `current` in production.
        return User.objects.get(pk=responders[index].pk), ModelVersion.objects.get(pk=current.pk)

    def roll_back(arguments):
        actor, seen = arguments
        return production_rollback(actor=actor, model=model, expected_current=seen, reason="Drift alert")

    results = at_once(roll_back, count=2, prepare=prepare)
    refused = [result for result in results if isinstance(result, Conflict)]
    assert len(refused) == 1, results
    assert refused[0].code == "already_rolled_back" and "Already rolled back" in refused[0].message
    assert ModelVersion.objects.get(pk=version.pk).stage == Stage.PRODUCTION
    assert ModelVersion.objects.get(pk=current.pk).stage == Stage.ARCHIVED
    assert StageTransition.objects.filter(model=model, kind=TransitionKind.ROLLBACK).count() == 1
    assert AuditEvent.objects.filter(action="incident.rollback_refused").count() == 1
    assert_chain_verifies()
