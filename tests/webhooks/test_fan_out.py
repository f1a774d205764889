"""The fan-out reads the audit trail after its cursor and writes one delivery per matching subscription:
none for another model, an event not subscribed to, or an event older than the subscription; nothing twice."""

import json

import pytest

from tests.factories import model_create_for_tests
from tests.webhooks.conftest import event_recorded, subscribe
from warehouse.audit.models import AuditEvent
from warehouse.webhooks.events import event_for
from warehouse.webhooks.models import DeliveryState, WebhookCursor, WebhookDelivery, WebhookEvent
from warehouse.webhooks.services import subscription_deactivate, webhook_fan_out

URL = "https://hooks.example.com/warehouse"
ALL_EVENTS = tuple(WebhookEvent.values)


def deliveries(subscription) -> list[tuple[str, int]]:
    return list(
        WebhookDelivery.objects.filter(subscription=subscription)
        .order_by("audit_sequence")
        .values_list("event", "audit_sequence")
    )


def test_it_writes_one_delivery_per_matching_subscription(superuser, policy_admin, model):
    on_model, _ = subscribe(policy_admin, model=model, url=URL + "/model")
    everywhere, _ = subscribe(superuser, url=URL + "/all")
    event = event_recorded("version.registered", model_name=model.name, data={"number": 2})

    assert webhook_fan_out() == 2

    assert deliveries(on_model) == [("version.registered", event.sequence)]
    assert deliveries(everywhere) == [("version.registered", event.sequence)]
    delivery = WebhookDelivery.objects.get(subscription=on_model)
    assert delivery.state == DeliveryState.PENDING
    assert delivery.attempts == 0
    assert WebhookCursor.objects.get().last_sequence == AuditEvent.objects.order_by("-sequence")[0].sequence


def test_it_writes_nothing_for_another_model(policy_admin, model, contributor, team):
    subscription, _ = subscribe(policy_admin, model=model, url=URL)
    other = model_create_for_tests(actor=contributor, name="churn-predictor", team=team)
    event_recorded("version.registered", model_name=other.name)

    assert webhook_fan_out() == 0
    assert deliveries(subscription) == []


def test_it_writes_nothing_for_an_event_not_subscribed_to_nor_for_other_actions(superuser, model):
    subscription, _ = subscribe(superuser, url=URL, events=["gate.finished"])
    event_recorded("version.registered", model_name=model.name)
    event_recorded("model.created", model_name=model.name)
    event_recorded("permission.denied", model_name=model.name)

    assert webhook_fan_out() == 0
    assert deliveries(subscription) == []


def test_it_sends_nothing_older_than_the_subscription(superuser, model):
    older = event_recorded("version.registered", model_name=model.name)
    subscription, _ = subscribe(superuser, url=URL)
    newer = event_recorded("version.registered", model_name=model.name)

    assert subscription.starts_after_sequence > older.sequence
    assert webhook_fan_out() == 1
    assert deliveries(subscription) == [("version.registered", newer.sequence)]


def test_a_later_subscription_does_not_receive_what_an_earlier_one_did(superuser, model):
    first, _ = subscribe(superuser, url=URL + "/1")
    early = event_recorded("version.registered", model_name=model.name)
    assert webhook_fan_out() == 1
    second, _ = subscribe(superuser, url=URL + "/2")
    late = event_recorded("version.registered", model_name=model.name)

    assert webhook_fan_out() == 2

    assert deliveries(first) == [
        ("version.registered", early.sequence),
        ("version.registered", late.sequence),
    ]
    assert deliveries(second) == [("version.registered", late.sequence)]


def test_running_it_twice_creates_nothing_twice(superuser, model):
    subscription, _ = subscribe(superuser, url=URL)
    event_recorded("version.registered", model_name=model.name)

    assert webhook_fan_out() == 1
    assert webhook_fan_out() == 0
    assert len(deliveries(subscription)) == 1


def test_a_cursor_that_was_reset_creates_nothing_twice(superuser, model):
    subscription, _ = subscribe(superuser, url=URL)
    event_recorded("version.registered", model_name=model.name)
    assert webhook_fan_out() == 1

    WebhookCursor.objects.update(last_sequence=0)

    assert webhook_fan_out() == 0
    assert len(deliveries(subscription)) == 1


def test_an_inactive_subscription_gets_nothing(superuser, model):
    subscription, _ = subscribe(superuser, url=URL)
    subscription_deactivate(actor=superuser, subscription=subscription)
    event_recorded("version.registered", model_name=model.name)

    assert webhook_fan_out() == 0
    assert deliveries(subscription) == []


def test_without_subscriptions_it_moves_the_cursor_to_the_head(db, model):
    event_recorded("version.registered", model_name=model.name)

    assert webhook_fan_out() == 0
    assert WebhookCursor.objects.get().last_sequence == AuditEvent.objects.order_by("-sequence")[0].sequence


@pytest.mark.parametrize(
    ("action", "data", "expected"),
    [
        ("version.registered", {}, "version.registered"),
        ("promotion.requested", {}, "promotion.requested"),
        ("gate.finished", {"state": "passed"}, "gate.finished"),
        ("signoff.recorded", {"decision": "approve"}, "signoff.recorded"),
        ("version.stage_changed", {"kind": "promotion"}, "version.stage_changed"),
        ("version.stage_changed", {"kind": "rolled-back"}, "version.stage_changed"),
        ("version.stage_changed", {"kind": "rollback"}, "version.rolled_back"),
    ],
)
def test_each_audited_action_maps_to_its_event(superuser, model, action, data, expected):
    subscription, _ = subscribe(superuser, url=URL, events=ALL_EVENTS)
    event = event_recorded(action, model_name=model.name, data=data)

    assert event_for(event) == expected
    assert webhook_fan_out() == 1
    assert deliveries(subscription) == [(expected, event.sequence)]


def test_a_rollback_goes_only_to_those_subscribed_to_rollbacks(superuser, model):
    rollbacks, _ = subscribe(superuser, url=URL + "/r", events=["version.rolled_back"])
    stages, _ = subscribe(superuser, url=URL + "/s", events=["version.stage_changed"])
    event_recorded("version.stage_changed", model_name=model.name, data={"kind": "rollback"})

    assert webhook_fan_out() == 1
    assert len(deliveries(rollbacks)) == 1
    assert deliveries(stages) == []


def test_it_fans_out_real_service_events(superuser, model, version, contributor):
    """Events written by the registry's own services, not only by hand."""
    from tests.factories import version_move
    from warehouse.registry.models import Stage

    subscription, _ = subscribe(superuser, url=URL, events=ALL_EVENTS)
    version_move(version, Stage.STAGING, actor=contributor)

    assert webhook_fan_out() == 1
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    body = json.loads(delivery.body)
    assert body["event"] == "version.stage_changed"
    assert body["target"]["label"] == f"{model.name}/v1"
    assert body["data"]["to"] == Stage.STAGING
    assert body["links"]["version"].endswith(f"/models/{model.name}/versions/1/")


def test_the_body_is_compact_json_naming_the_event_and_the_delivery(superuser, model):
    subscription, _ = subscribe(superuser, url=URL)
    event = event_recorded("version.registered", model_name=model.name, data={"number": 3, "note": "ünï"})
    webhook_fan_out()

    delivery = WebhookDelivery.objects.get(subscription=subscription)
    body = json.loads(delivery.body)
    assert body == {
        "id": str(delivery.uuid),
        "event": "version.registered",
        "occurred_at": body["occurred_at"],
        "sequence": event.sequence,
        "model": model.name,
        "actor": "system",
        "via": "",
        "target": {"type": "", "id": "", "label": ""},
        "data": {"number": 3, "note": "ünï"},
        "links": {"model": body["links"]["model"]},
    }
    assert body["links"]["model"].endswith(f"/models/{model.name}/")
    assert delivery.body.isascii()
    assert " " not in delivery.body.replace("system", "")


def test_it_reads_the_trail_in_batches(superuser, model, monkeypatch):
    from warehouse.webhooks import services

    monkeypatch.setattr(services, "FAN_OUT_BATCH", 2)
    subscription, _ = subscribe(superuser, url=URL)
    for _ in range(5):
        event_recorded("version.registered", model_name=model.name)
        event_recorded("model.created", model_name=model.name)

    assert webhook_fan_out() == 5
    assert len(deliveries(subscription)) == 5
