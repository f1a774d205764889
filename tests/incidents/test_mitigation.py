"""Firing → mitigated → resolved: a rollback marks every firing incident of its model mitigated, in the same
transaction and on the record, saying which versions, who and when; a retried rollback mitigates nothing
twice; the alert still firing keeps the incident mitigated, and only its "resolved" closes it."""

import pytest

from tests.factories import model_create_for_tests, version_move, version_register_for_tests
from tests.incidents.conftest import ALERTMANAGER_FIRING, example
from tests.incidents.test_rollback import incident_about
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict
from warehouse.incidents import rollback as rollback_module
from warehouse.incidents.models import Incident, IncidentStatus
from warehouse.incidents.rollback import production_rollback
from warehouse.registry.models import ModelVersion, Stage

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_a_rollback_mitigates_every_firing_incident_of_the_model(
    production_with_target, responder, model, superuser, contributor, team
):
    current, target = production_with_target
    came_from = incident_about(model, superuser, fingerprint="drift")
    also_firing = incident_about(model, superuser, fingerprint="latency")
    already_over = incident_about(model, superuser, fingerprint="old")
    Incident.objects.filter(pk=already_over.pk).update(status=IncidentStatus.RESOLVED)
    elsewhere = incident_about(
        model_create_for_tests(actor=contributor, name="churn-predictor", team=team), superuser
    )

    transition = production_rollback(
        actor=responder, model=model, expected_current=current, reason="Drift", incident=came_from
    )

    for incident in (came_from, also_firing):
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.MITIGATED and incident.is_open
        assert (incident.rollback, incident.rolled_back_by) == (transition, responder)
        assert incident.rolled_back_from == current and incident.rollback.version == target
        assert incident.mitigated_at == transition.created_at
    assert Incident.objects.get(pk=already_over.pk).status == IncidentStatus.RESOLVED
    assert Incident.objects.get(pk=already_over.pk).rollback is None
    assert Incident.objects.get(pk=elsewhere.pk).status == IncidentStatus.FIRING
    mitigated = events("incident.mitigated")
    assert [event.target_id for event in mitigated] == [str(came_from.pk), str(also_firing.pk)]
    assert mitigated[0].data == {
        "from": current.number,
        "to": target.number,
        "by": "rollback",
        "fingerprint": "drift",
        "alertname": "ModelPredictionDrift",
    }
    assert mitigated[0].actor == responder and mitigated[0].model_name == model.name
    [rolled_back] = events("incident.rolled_back")
    assert rolled_back.data["mitigated"] == [came_from.pk, also_firing.pk]
    assert rolled_back.data["incident"] == came_from.pk


def test_a_rollback_without_an_incident_still_mitigates_the_firing_ones(
    production_with_target, responder, model, superuser
):
    current, _ = production_with_target
    firing = incident_about(model, superuser)

    production_rollback(actor=responder, model=model, expected_current=current, reason="From the runbook")

    assert Incident.objects.get(pk=firing.pk).status == IncidentStatus.MITIGATED


def test_the_rollback_and_the_mitigation_are_one_transaction(
    production_with_target, responder, model, superuser, monkeypatch
):
    current, _ = production_with_target
    firing = incident_about(model, superuser)
    recorded = rollback_module.audit_record

    def fail_on_the_last_event(**event):
        if event["action"] == "incident.rolled_back":
            raise RuntimeError("the database went away")
        return recorded(**event)

    monkeypatch.setattr(rollback_module, "audit_record", fail_on_the_last_event)

    with pytest.raises(RuntimeError):
        production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")

    assert ModelVersion.objects.get(pk=current.pk).stage == Stage.PRODUCTION
    firing.refresh_from_db()
    assert firing.status == IncidentStatus.FIRING and firing.rollback is None and firing.mitigated_at is None
    assert events("incident.mitigated") == []


def test_a_refused_rollback_mitigates_nothing(model, version, contributor, responder, superuser):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    firing = incident_about(model, superuser)

    with pytest.raises(Conflict):
        production_rollback(actor=responder, model=model, expected_current=version, reason="Drift")

    assert Incident.objects.get(pk=firing.pk).status == IncidentStatus.FIRING
    assert events("incident.mitigated") == []


def test_a_retried_rollback_does_not_mitigate_twice(production_with_target, responder, model, superuser):
    current, _ = production_with_target
    firing = incident_about(model, superuser)
    production_rollback(
        actor=responder, model=model, expected_current=current, reason="First", incident=firing
    )
    firing.refresh_from_db()
    first = (firing.rollback_id, firing.mitigated_at)

    with pytest.raises(Conflict) as refused:
        production_rollback(
            actor=responder, model=model, expected_current=current, reason="Again", incident=firing
        )

    assert refused.value.code == "already_rolled_back"
    firing.refresh_from_db()
    assert (firing.rollback_id, firing.mitigated_at) == first
    assert len(events("incident.mitigated")) == 1


def test_a_later_rollback_keeps_the_first_mitigation_and_mitigates_only_new_alerts(
    model, version, contributor, responder, superuser
):
    versions = [version] + [version_register_for_tests(actor=contributor, model=model) for _ in range(2)]
    for each in versions:
        version_move(each, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    first_alert = incident_about(model, superuser, fingerprint="first")
    production_rollback(actor=responder, model=model, expected_current=versions[2], reason="v3 drifts")
    second_alert = incident_about(model, superuser, fingerprint="second")

    production_rollback(actor=responder, model=model, expected_current=versions[1], reason="v2 drifts too")

    first_alert.refresh_from_db()
    second_alert.refresh_from_db()
    assert (first_alert.rolled_back_from.number, first_alert.rollback.version.number) == (3, 2)
    assert (second_alert.rolled_back_from.number, second_alert.rollback.version.number) == (2, 1)
    assert len(events("incident.mitigated")) == 2


def test_a_resolved_incident_the_responder_names_is_linked_but_stays_resolved(
    production_with_target, responder, model, superuser
):
    current, _ = production_with_target
    over = incident_about(model, superuser)
    Incident.objects.filter(pk=over.pk).update(status=IncidentStatus.RESOLVED)

    transition = production_rollback(
        actor=responder, model=model, expected_current=current, reason="Still bad", incident=over
    )

    over.refresh_from_db()
    assert over.status == IncidentStatus.RESOLVED and over.rollback == transition
    assert over.mitigated_at is None and events("incident.mitigated") == []


def test_the_database_refuses_a_mitigated_incident_without_its_rollback(model, superuser):
    from django.db import IntegrityError, transaction

    incident = incident_about(model, superuser)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.MITIGATED)


# --- The alert goes on: still firing keeps it mitigated, resolved closes it ------------------------------


@pytest.fixture
def mitigated(deliver, model, version, contributor, responder):
    """fraud-scorer v1 then v2 in production; the example alert fires about it and a responder rolls back."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert deliver("alertmanager", example(ALERTMANAGER_FIRING)).status_code == 200
    incident = Incident.objects.get()
    production_rollback(
        actor=responder, model=model, expected_current=current, reason="Drift", incident=incident
    )
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.MITIGATED
    return incident


def test_the_alert_still_firing_keeps_the_incident_mitigated(deliver, mitigated):
    body = example(ALERTMANAGER_FIRING)
    body["alerts"][0]["annotations"]["summary"] = "PSI drift 0.27 > 0.25 on fraud-scorer v17"

    assert deliver("alertmanager", body).status_code == 200

    mitigated.refresh_from_db()
    assert mitigated.status == IncidentStatus.MITIGATED and mitigated.summary.startswith("PSI drift 0.27")
    assert mitigated.resolved_at is None and events("incident.resolved") == []


def test_the_alert_resolving_closes_a_mitigated_incident_and_keeps_what_mitigated_it(deliver, mitigated):
    body = example(ALERTMANAGER_FIRING)
    body["alerts"][0].update(status="resolved", endsAt="2025-03-04T10:41:00Z")
    rollback_id, mitigated_at = mitigated.rollback_id, mitigated.mitigated_at

    assert deliver("alertmanager", body).status_code == 200

    mitigated.refresh_from_db()
    assert mitigated.status == IncidentStatus.RESOLVED and mitigated.resolved_at is not None
    assert (mitigated.rollback_id, mitigated.mitigated_at) == (rollback_id, mitigated_at)
    [resolved] = events("incident.resolved")
    assert resolved.target_id == str(mitigated.pk)
    assert [
        event.action
        # By type as well as key: an alert receiver or a version may have the same key (SQLite starts each
        # table's keys at 1).
        for event in AuditEvent.objects.filter(
            target_type="incidents.incident", target_id=str(mitigated.pk)
        ).order_by("sequence")
    ] == [
        "incident.opened",
        "incident.mitigated",
        "incident.resolved",
    ]
