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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rollback_from_an_incident_and_a_repeat_delivery_of_its_alert_at_once_both_complete(
    receiver_and_token, model, version, contributor, responder
):
    """The rollback locks the model, then the incident, then the audit chain; a delivery locks the incident,
    then the chain. One order: neither waits for the other forever, and both finish."""
    from tests.incidents.conftest import example_bytes, post_alerts
    from warehouse.incidents.models import Incident

    _, token = receiver_and_token
    body = example_bytes("alertmanager-v4-firing.json")
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert post_alerts("alertmanager", body, token=token).status_code == 200
    incident = Incident.objects.get()

    def work(index):
        if index == 0:
            return production_rollback(
                actor=User.objects.get(pk=responder.pk),
                model=model,
                expected_current=ModelVersion.objects.get(pk=current.pk),
                reason="Drift alert",
                incident=Incident.objects.get(pk=incident.pk),
            )
        return post_alerts("alertmanager", body, token=token)

    for _ in range(3):  # a few rounds, so the two really meet at least once
        results = at_once(work, count=2)
        assert not any(
            isinstance(result, Exception) and not isinstance(result, Conflict) for result in results
        )
        assert results[1].status_code == 200
    incident.refresh_from_db()
    assert incident.rollback is not None and Incident.objects.count() == 1
    assert StageTransition.objects.filter(model=model, kind=TransitionKind.ROLLBACK).count() == 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_adding_an_alert_while_a_rollback_holds_the_model_does_not_deadlock(
    receiver_and_token, model, version, contributor, responder, monkeypatch
):
    """A repeat delivery that also brings a new alert for the same model, interleaved with a rollback from
    the first alert's incident: inserting an incident takes a key-share lock on the model row at commit.
    The delivery locks the model rows it names before any incident, as the rollback does: no cycle."""
    import copy
    import threading
    import time

    from django.db import connections

    from tests.incidents.conftest import example, post_alerts
    from warehouse.incidents import services as incident_services
    from warehouse.incidents.models import Incident

    _, token = receiver_and_token
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    first = example("alertmanager-v4-firing.json")
    for alert in first["alerts"]:
        alert["labels"]["model_name"] = model.name
        alert["labels"].pop("model_version")
    assert post_alerts("alertmanager", first, token=token).status_code == 200
    incident = Incident.objects.get()
    second = copy.deepcopy(first)
    new_alert = copy.deepcopy(second["alerts"][0])
    new_alert["fingerprint"] = "ffff000000000000"
    second["alerts"].append(new_alert)

    # Hold the delivery inside its transaction, after it locked the first alert's incident and before it
    # inserts the new one, while the rollback starts.
    in_delivery, go_on = threading.Event(), threading.Event()
    original = incident_services._incident_upsert

    def held(receiver, payload, record, *args, **kwargs):
        if threading.current_thread().name == "delivery" and record.fingerprint == "ffff000000000000":
            in_delivery.set()
            go_on.wait(10)
        return original(receiver, payload, record, *args, **kwargs)

    monkeypatch.setattr(incident_services, "_incident_upsert", held)
    results = {}

    def deliver():
        try:
            results["delivery"] = post_alerts("alertmanager", second, token=token).status_code
        except BaseException as error:  # noqa: B036 - the test inspects whatever happened
            results["delivery"] = error
        finally:
            connections.close_all()

    def roll_back():
        try:
            results["rollback"] = production_rollback(
                actor=User.objects.get(pk=responder.pk),
                model=model,
                expected_current=ModelVersion.objects.get(pk=current.pk),
                reason="Drift",
                incident=Incident.objects.get(pk=incident.pk),
            )
        except BaseException as error:  # noqa: B036
            results["rollback"] = error
        finally:
            connections.close_all()

    delivery = threading.Thread(target=deliver, name="delivery")
    delivery.start()
    assert in_delivery.wait(10)
    rollback = threading.Thread(target=roll_back, name="rollback")
    rollback.start()
    time.sleep(1.0)  # the rollback now waits for the model row the delivery holds, or holds it itself
    go_on.set()
    delivery.join(30)
    rollback.join(30)
    assert not any(isinstance(value, BaseException) for value in results.values()), results
    assert results["delivery"] == 200 and Incident.objects.count() == 2
    assert ModelVersion.objects.get(pk=version.pk).stage == Stage.PRODUCTION
    assert_chain_verifies()
