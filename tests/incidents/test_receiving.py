"""Receiving alerts through the real hooks: stored first, read, turned into incidents; every refusal."""

import json
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from tests.incidents.conftest import (
    ALERTMANAGER_FIRING,
    GRAFANA_FIRING,
    GRAFANA_RESOLVED,
    example,
    example_bytes,
    post_alerts,
)
from tests.registry.test_concurrency import assert_chain_verifies, at_once
from warehouse import clock
from warehouse.audit.models import AuditEvent
from warehouse.incidents.models import AlertPayload, Incident, IncidentStatus
from warehouse.incidents.services import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    alerts_receive,
    production_at,
    receiver_revoke,
)
from warehouse.registry.models import Stage


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def versions_up_to(model, number: int, actor):
    """Register versions until `model` has one numbered `number`."""
    while model.versions.count() < number:
        version_register_for_tests(actor=actor, model=model)
    return model.versions.get(number=number)


def promote(version, actor, moment: datetime):
    with clock.frozen_at(moment):
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=actor)


def events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


# --- Incidents from alerts -------------------------------------------------------------------------------


def test_it_opens_an_incident_for_the_alertmanager_example_matched_to_model_and_version(
    deliver, model, contributor, receiver
):
    v17 = versions_up_to(model, 17, contributor)

    response = deliver("alertmanager", example_bytes(ALERTMANAGER_FIRING))

    assert response.status_code == 200, response.content
    payload = AlertPayload.objects.get()
    [incident] = Incident.objects.all()
    assert response.json() == {"stored": payload.pk, "alerts": 1, "incidents": [incident.pk]}
    assert payload.body == example_bytes(ALERTMANAGER_FIRING).decode()
    assert payload.kind == "alertmanager" and payload.error == "" and payload.alert_count == 1
    assert payload.processed_at is not None
    assert incident.receiver == receiver
    assert incident.model == model and incident.version == v17
    assert incident.model_label_value == "fraud-scorer"
    assert incident.status == IncidentStatus.FIRING and incident.is_firing
    assert incident.fingerprint == "8c1b2f0e5a7d9c34"
    assert incident.starts_at == datetime(2025, 3, 4, 10, 15, 30, 123000, tzinfo=UTC)
    assert incident.ends_at is None and incident.resolved_at is None
    assert incident.alertname == "ModelPredictionDrift"
    assert incident.severity == "critical"
    assert incident.summary == "PSI drift 0.31 > 0.25 on fraud-scorer v17"
    assert incident.runbook_url == "https://runbooks.example.com/ml/drift"
    assert incident.generator_url.startswith("https://prometheus.example.com/graph?g0.expr=")
    assert incident.labels["instance"] == "scorer-7f9c:8080"
    assert incident.annotations["description"] == "Population stability index above threshold for 15m"
    assert incident.first_payload == payload and incident.last_payload == payload

    [opened] = events("incident.opened")
    assert opened.model_name == "fraud-scorer"
    assert opened.actor_label == "system" and opened.via == "alert-receiver:prod-alerts"
    assert opened.target_type == "incidents.incident" and opened.target_id == str(incident.pk)
    assert opened.data["version"] == 17 and opened.data["version_from"] == "label"
    assert opened.data["matched"] is True and opened.data["payload"] == payload.pk


def test_it_accepts_a_version_label_written_v17(deliver, model, contributor):
    v2 = versions_up_to(model, 2, contributor)
    body = example(ALERTMANAGER_FIRING)
    body["alerts"][0]["labels"]["model_version"] = "v2"
    assert deliver("alertmanager", body).status_code == 200
    assert Incident.objects.get().version == v2


def test_it_takes_the_version_in_production_when_the_alert_started(deliver, model, version, contributor):
    v1, v2 = version, versions_up_to(model, 2, contributor)
    promote(v1, contributor, at(1))
    promote(v2, contributor, at(5))  # v1 is archived, v2 serves from 5 March on
    body = example(ALERTMANAGER_FIRING)
    alert = body["alerts"][0]
    del alert["labels"]["model_version"]

    alert["startsAt"], alert["fingerprint"] = "2025-03-04T10:15:30Z", "before-the-switch"
    assert deliver("alertmanager", body).status_code == 200
    alert["startsAt"], alert["fingerprint"] = "2025-03-06T08:00:00Z", "after-the-switch"
    assert deliver("alertmanager", body).status_code == 200
    # Before anything was ever in production the history says nothing: the version serving now.
    alert["startsAt"], alert["fingerprint"] = "2025-02-01T08:00:00Z", "before-any-history"
    assert deliver("alertmanager", body).status_code == 200

    found = {incident.fingerprint: incident for incident in Incident.objects.all()}
    assert found["before-the-switch"].version == v1
    assert found["after-the-switch"].version == v2
    assert found["before-any-history"].version == v2
    version_from = {
        event.data["fingerprint"]: event.data["version_from"] for event in events("incident.opened")
    }
    assert version_from == {
        "before-the-switch": "production_at_start",
        "after-the-switch": "production_at_start",
        "before-any-history": "production_now",
    }


def test_a_labelled_version_that_does_not_exist_falls_back_to_production(
    deliver, model, version, contributor
):
    promote(version, contributor, at(1))
    # The example names v17; this model has only v1.
    assert deliver("alertmanager", example_bytes(ALERTMANAGER_FIRING)).status_code == 200
    incident = Incident.objects.get()
    assert incident.model == model and incident.version == version


def test_production_history_counts_a_rollback_as_a_return_to_production(model, version, contributor):
    v1, v2 = version, versions_up_to(model, 2, contributor)
    promote(v1, contributor, at(1))
    promote(v2, contributor, at(5))
    with clock.frozen_at(at(8)):
        version_move(v1, Stage.PRODUCTION, actor=contributor)  # the recorded rollback target
    assert production_at(model=model, moment=at(3)) == v1
    assert production_at(model=model, moment=at(6)) == v2
    assert production_at(model=model, moment=at(9)) == v1
    assert production_at(model=model, moment=datetime(2025, 2, 1, tzinfo=UTC)) is None


def test_it_reads_grafana_and_keeps_an_unmatched_alert(deliver, model, version, contributor):
    promote(version, contributor, at(1))

    response = deliver("grafana", example_bytes(GRAFANA_FIRING))

    assert response.status_code == 200, response.content
    assert response.json()["alerts"] == 2
    matched, unmatched = (Incident.objects.get(pk=pk) for pk in response.json()["incidents"])
    assert matched.model == model and matched.version == version
    assert matched.model_label_value == "fraud-scorer"  # from the `model` label
    assert matched.summary == "p95 latency above 50 ms for 10m"
    assert matched.runbook_url == "https://runbooks.example.com/ml/latency"
    assert matched.generator_url == "https://grafana.example.com/alerting/grafana/bdf3kq9/view?orgId=1"
    assert matched.starts_at == datetime(2025, 3, 4, 10, 2, tzinfo=UTC)
    # No model named churn-predictor: kept, flagged by its empty model and the name the labels gave.
    assert unmatched.model is None and unmatched.version is None
    assert unmatched.model_label_value == "churn-predictor"
    assert list(Incident.objects.filter(model__isnull=True)) == [unmatched]
    assert AlertPayload.objects.get().kind == "grafana"

    opened = {event.target_id: event for event in events("incident.opened")}
    assert opened[str(matched.pk)].model_name == "fraud-scorer"
    assert opened[str(unmatched.pk)].model_name == ""
    assert opened[str(unmatched.pk)].data["matched"] is False
    assert opened[str(unmatched.pk)].data["model_label_value"] == "churn-predictor"


def test_the_receivers_own_label_names_are_used(superuser, model, version, contributor):
    from warehouse.incidents.services import receiver_create

    _, token = receiver_create(
        actor=superuser, name="custom", model_labels=["service"], version_labels=["build"]
    )
    body = example(ALERTMANAGER_FIRING)
    body["alerts"][0]["labels"].update(service="fraud-scorer", model_name="something-else", build="1")
    response = post_alerts("alertmanager", body, token=token, receiver="custom")
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert incident.model == model and incident.version == version


def test_a_resolved_alert_closes_the_incident(deliver, model):
    deliver("grafana", example_bytes(GRAFANA_FIRING))
    incident = Incident.objects.get(fingerprint="4e7d1c0b9a2f6e51")

    response = deliver("grafana", example_bytes(GRAFANA_RESOLVED))

    assert response.status_code == 200
    assert response.json()["incidents"] == [incident.pk]
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED and not incident.is_firing
    assert incident.resolved_at is not None
    assert incident.ends_at == datetime(2025, 3, 4, 10, 41, tzinfo=UTC)
    assert incident.first_payload != incident.last_payload
    [resolved] = events("incident.resolved")
    assert resolved.target_id == str(incident.pk) and resolved.model_name == "fraud-scorer"
    # The other alert of the first delivery is still firing.
    assert Incident.objects.get(fingerprint="90b1e2c3d4f5a607").is_firing

    # Told again: nothing changes, nothing new on the record.
    resolved_at = incident.resolved_at
    assert deliver("grafana", example_bytes(GRAFANA_RESOLVED)).status_code == 200
    incident.refresh_from_db()
    assert incident.resolved_at == resolved_at
    assert len(events("incident.resolved")) == 1


def test_a_late_firing_delivery_does_not_reopen_a_resolved_incident(deliver, model):
    deliver("grafana", example_bytes(GRAFANA_RESOLVED))  # the firing one was lost, or is late
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.RESOLVED
    on_record = AuditEvent.objects.filter(target_type="incidents.incident", target_id=str(incident.pk))
    assert [event.action for event in on_record.order_by("sequence")] == [
        "incident.opened",
        "incident.resolved",
    ]

    assert deliver("grafana", example_bytes(GRAFANA_FIRING)).status_code == 200
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.ends_at == datetime(2025, 3, 4, 10, 41, tzinfo=UTC)


def test_a_repeated_delivery_creates_no_duplicate_and_no_second_opened_event(deliver, model):
    first = deliver("alertmanager", example_bytes(ALERTMANAGER_FIRING))
    body = example(ALERTMANAGER_FIRING)
    body["alerts"][0]["annotations"]["summary"] = "PSI drift 0.34 > 0.25 on fraud-scorer v17"
    second = deliver("alertmanager", body)

    assert first.status_code == second.status_code == 200
    assert first.json()["incidents"] == second.json()["incidents"]
    assert second.json()["stored"] != first.json()["stored"]  # each delivery is kept
    assert AlertPayload.objects.count() == 2
    incident = Incident.objects.get()
    assert incident.summary == "PSI drift 0.34 > 0.25 on fraud-scorer v17"  # the latest word
    assert incident.first_payload_id == first.json()["stored"]
    assert incident.last_payload_id == second.json()["stored"]
    assert len(events("incident.opened")) == 1


def test_the_same_alert_twice_in_one_body_is_one_incident(deliver, model):
    body = example(ALERTMANAGER_FIRING)
    body["alerts"].append(dict(body["alerts"][0]))
    response = deliver("alertmanager", body)
    assert response.status_code == 200
    assert response.json()["alerts"] == 2
    assert len(set(response.json()["incidents"])) == 1
    assert len(events("incident.opened")) == 1


def test_untrusted_text_and_urls_are_stored_as_given(deliver, model):
    body = example(ALERTMANAGER_FIRING)
    alert = body["alerts"][0]
    alert["annotations"].update(summary="<img src=x onerror=alert(1)>", runbook_url="javascript:alert(1)")
    alert["generatorURL"] = "http://127.0.0.1:6379/"
    alert["labels"]["alertname"] = "A" * 500  # longer than the column: the labels keep it whole
    assert deliver("alertmanager", body).status_code == 200
    incident = Incident.objects.get()
    assert incident.summary == "<img src=x onerror=alert(1)>"
    assert incident.runbook_url == "javascript:alert(1)"
    assert incident.generator_url == "http://127.0.0.1:6379/"
    assert incident.alertname == "A" * 200 and incident.labels["alertname"] == "A" * 500


def test_an_empty_alert_list_is_stored_and_answered(deliver):
    body = example(ALERTMANAGER_FIRING)
    body["alerts"] = []
    response = deliver("alertmanager", body)
    assert response.status_code == 200
    assert response.json() == {"stored": AlertPayload.objects.get().pk, "alerts": 0, "incidents": []}


def test_it_accepts_a_trailing_slash_and_needs_no_csrf_token(token, model):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("hooks:alertmanager", args=["prod-alerts"]) + "/",
        data=example_bytes(ALERTMANAGER_FIRING),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content


def test_it_accepts_the_token_as_a_basic_auth_password(token, model):
    import base64

    credentials = base64.b64encode(f"alertmanager:{token}".encode()).decode()
    response = post_alerts(
        "alertmanager",
        example_bytes(ALERTMANAGER_FIRING),
        token=None,
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code == 200


def test_it_marks_when_the_receiver_was_last_used(deliver, receiver):
    assert receiver.last_used_at is None
    deliver("alertmanager", example_bytes(ALERTMANAGER_FIRING))
    receiver.refresh_from_db()
    assert receiver.last_used_at is not None


# --- Refusals ---------------------------------------------------------------------------------------------


def assert_unauthorized(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    # The same answer whatever was wrong: nothing says whether the receiver exists.
    assert response.json() == {
        "error": {
            "code": "unauthenticated",
            "message": "Send this receiver's token as 'Authorization: Bearer <token>'.",
        }
    }


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_it_answers_401_without_a_token(kind, receiver):
    assert_unauthorized(post_alerts(kind, example_bytes(GRAFANA_FIRING), token=None))
    assert not AlertPayload.objects.exists()


def test_it_answers_401_to_a_wrong_token_or_receiver(receiver, token, superuser):
    from warehouse.incidents.services import receiver_create

    _, other_token = receiver_create(actor=superuser, name="staging-alerts")
    body = example_bytes(ALERTMANAGER_FIRING)
    assert_unauthorized(post_alerts("alertmanager", body, token=token[:-2] + "xx"))
    assert_unauthorized(post_alerts("alertmanager", body, token="not-even-a-receiver-token"))
    assert_unauthorized(post_alerts("alertmanager", body, token=other_token))  # another receiver's token
    assert_unauthorized(post_alerts("alertmanager", body, token=token, receiver="no-such-receiver"))
    assert_unauthorized(post_alerts("alertmanager", body, token=None, HTTP_AUTHORIZATION=f"Token {token}"))
    assert_unauthorized(post_alerts("alertmanager", body, token=None, HTTP_AUTHORIZATION="Basic !!!"))
    assert not AlertPayload.objects.exists() and not Incident.objects.exists()


def test_a_revoked_receiver_answers_401(receiver, token, superuser):
    receiver_revoke(actor=superuser, receiver=receiver)
    assert_unauthorized(post_alerts("alertmanager", example_bytes(ALERTMANAGER_FIRING), token=token))
    assert events("alert_receiver.revoked")[0].target_id == str(receiver.pk)


def padded(size: int) -> bytes:
    """The example, padded with whitespace to exactly `size` bytes: still valid JSON."""
    body = example_bytes(ALERTMANAGER_FIRING)
    return body + b" " * (size - len(body))


def test_it_answers_413_to_a_body_over_one_megabyte_and_stores_nothing(deliver, model):
    response = deliver("alertmanager", padded(MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not AlertPayload.objects.exists()
    # One megabyte exactly is fine.
    assert deliver("alertmanager", padded(MAX_BODY_BYTES)).status_code == 200


def test_the_service_refuses_a_body_over_one_megabyte_too(receiver, token):
    with pytest.raises(PayloadTooLarge):
        alerts_receive(
            receiver_name="prod-alerts", kind="alertmanager", token=token, body=padded(MAX_BODY_BYTES + 1)
        )
    assert not AlertPayload.objects.exists()


@pytest.mark.parametrize(
    "body, message",
    [
        (b"this is not json", "The body is not JSON: Expecting value: line 1 column 1 (char 0)."),
        (b'{"version": "4", "alerts": [}', "The body is not JSON"),
        (b"\x00\xff\xfe binary", "The body is not JSON"),
    ],
)
def test_it_answers_400_to_a_body_that_is_not_json_and_keeps_it(deliver, body, message):
    response = deliver("alertmanager", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_payload" and error["message"].startswith(message)
    payload = AlertPayload.objects.get()
    assert response.json()["stored"] == payload.pk
    assert payload.error == error["message"]
    assert payload.processed_at is not None and payload.alert_count == 0
    assert not Incident.objects.exists()


def test_it_answers_400_to_an_unknown_payload_version_and_keeps_it(deliver):
    body = example(ALERTMANAGER_FIRING)
    body["version"] = "3"
    response = deliver("alertmanager", body)
    assert response.status_code == 400
    expected = 'Unknown Alertmanager payload version "3": this endpoint reads version "4".'
    assert response.json()["error"]["message"] == expected
    payload = AlertPayload.objects.get()
    assert payload.error == expected
    assert json.loads(payload.body)["version"] == "3"  # stored as it came
    assert not Incident.objects.exists()

    # An Alertmanager body posted to the Grafana hook.
    response = deliver("grafana", example_bytes(ALERTMANAGER_FIRING))
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith('Unknown Grafana payload version "4"')


def test_a_bad_alert_stores_the_payload_and_opens_nothing(deliver, model):
    body = example(GRAFANA_FIRING)
    body["alerts"][1]["startsAt"] = "last tuesday"
    response = deliver("grafana", body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "alerts[1].startsAt is not a time: 'last tuesday' (expected RFC 3339)."
    )
    assert AlertPayload.objects.get().error.startswith("alerts[1].startsAt")
    assert not Incident.objects.exists()  # not the first alert either: the body is read whole or not at all


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_it_answers_405_to_other_methods(method, token):
    client = Client()
    response = getattr(client, method)(
        reverse("hooks:alertmanager", args=["prod-alerts"]), HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- Races ------------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_deliveries_at_once_make_one_incident(receiver_and_token, model):
    _, token = receiver_and_token
    body = example_bytes(ALERTMANAGER_FIRING)

    results = at_once(lambda index: post_alerts("alertmanager", body, token=token), count=2)

    assert [getattr(result, "status_code", result) for result in results] == [200, 200]
    assert results[0].json()["incidents"] == results[1].json()["incidents"]
    assert Incident.objects.count() == 1
    assert AlertPayload.objects.count() == 2
    assert len(events("incident.opened")) == 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_deliveries_of_overlapping_alerts_at_once_make_one_incident_each(receiver_and_token, model):
    _, token = receiver_and_token
    body = example(GRAFANA_FIRING)
    reversed_body = example(GRAFANA_FIRING)
    reversed_body["alerts"].reverse()

    results = at_once(
        lambda index: post_alerts("grafana", body if index % 2 else reversed_body, token=token), count=8
    )

    assert [getattr(result, "status_code", result) for result in results] == [200] * 8
    assert Incident.objects.count() == 2
    assert len(events("incident.opened")) == 2
    assert_chain_verifies()
