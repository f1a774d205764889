"""The sweeper, and the audit listener that wakes the fan-out: together nothing committed is lost, and a
broker that is down only delays deliveries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from tests.promotions.test_gate_service import broker_unreachable
from tests.webhooks.conftest import event_recorded, queued, subscribe
from warehouse import clock
from warehouse.webhooks.models import DeliveryState, WebhookDelivery
from warehouse.webhooks.services import WebhookSweepReport, webhook_fan_out, webhooks_sweep, webhooks_wake
from warehouse.webhooks.tasks import webhooks_sweep_task

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
URL = "https://hooks.example.com/warehouse"
pytestmark = pytest.mark.usefixtures("webhook_queue")


@pytest.fixture
def delivery(superuser, model) -> WebhookDelivery:
    """A pending delivery whose publish after commit never happened (the test's transaction never commits)."""
    with clock.frozen_at(T0):
        subscription, _ = subscribe(superuser, url=URL)
        event_recorded("version.registered", model_name=model.name)
        webhook_fan_out()
    return WebhookDelivery.objects.get(subscription=subscription)


def sweep_at(moment: datetime) -> WebhookSweepReport:
    with clock.frozen_at(moment):
        return webhooks_sweep()


def state_of(delivery: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery.objects.get(pk=delivery.pk)


def test_it_queues_a_delivery_that_was_never_queued(delivery):
    assert sweep_at(T0 + timedelta(seconds=1)) == WebhookSweepReport(0, 1, 0, 0)

    assert state_of(delivery).enqueued_at == T0 + timedelta(seconds=1)
    assert queued() == 1
    assert sweep_at(T0 + timedelta(seconds=2)).republished == 0  # on its way: left alone


def test_it_fans_out_what_the_listener_missed(superuser, model):
    subscribe(superuser, url=URL)
    event_recorded("version.registered", model_name=model.name)

    report = sweep_at(T0)

    assert report.fanned_out == 1
    assert report.republished == 1
    assert queued() == 1


def test_it_queues_again_a_delivery_queued_long_ago_and_never_claimed(delivery, settings):
    sweep_at(T0)
    later = T0 + timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS + 1)

    assert sweep_at(later).republished == 1


def test_it_queues_a_retry_when_it_is_due_and_not_before(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.RETRYING, attempts=1, next_attempt_at=T0 + timedelta(seconds=30), enqueued_at=None
    )

    assert sweep_at(T0 + timedelta(seconds=29)).republished == 0
    assert sweep_at(T0 + timedelta(seconds=30)).republished == 1


def test_it_hands_out_again_a_delivery_whose_worker_died(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.SENDING, attempts=1, lease_expires_at=T0 + timedelta(seconds=60), enqueued_at=T0
    )

    assert sweep_at(T0 + timedelta(seconds=59)).republished == 0
    assert sweep_at(T0 + timedelta(seconds=61)).republished == 1


def test_it_gives_up_on_a_delivery_whose_worker_died_on_its_last_attempt(delivery, settings):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.SENDING,
        attempts=settings.WEBHOOK_MAX_ATTEMPTS,
        lease_expires_at=T0 + timedelta(seconds=60),
        enqueued_at=T0,
    )

    report = sweep_at(T0 + timedelta(seconds=61))

    assert (report.given_up, report.republished) == (1, 0)
    stored = state_of(delivery)
    assert stored.state == DeliveryState.FAILED
    assert "worker sending the last one stopped" in stored.last_error


def test_delivered_and_failed_deliveries_are_left_alone(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.DELIVERED)
    assert sweep_at(T0 + timedelta(days=1)).republished == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED)
    assert sweep_at(T0 + timedelta(days=1)).republished == 0


def test_a_broker_that_is_down_leaves_the_delivery_for_the_next_sweep(delivery):
    with broker_unreachable():
        report = sweep_at(T0 + timedelta(seconds=1))

    assert (report.republished, report.publish_failed) == (0, 1)
    assert state_of(delivery).enqueued_at is None
    assert sweep_at(T0 + timedelta(seconds=2)).republished == 1


def test_the_task_reports_what_it_did(delivery):
    with clock.frozen_at(T0 + timedelta(seconds=1)):
        assert webhooks_sweep_task.run() == {
            "fanned_out": 0,
            "republished": 1,
            "given_up": 0,
            "publish_failed": 0,
        }


# --- The audit listener ---------------------------------------------------------------------------------


def test_the_listener_queues_nothing_when_no_one_listens(db, model, django_assert_num_queries):
    with django_assert_num_queries(1):
        webhooks_wake()
    assert queued() == 0


def test_the_listener_queues_a_fan_out_when_a_subscription_is_active(superuser):
    subscribe(superuser, url=URL)

    webhooks_wake()

    assert queued() == 1


def test_the_listener_never_raises_when_the_broker_is_down(superuser, caplog):
    subscribe(superuser, url=URL)

    with broker_unreachable():
        webhooks_wake()

    assert "sweeper will run it" in caplog.text


def test_a_committed_event_wakes_the_fan_out(transactional_db, superuser, model):
    """End to end on commit, as in production: the subscription's own event commits, then a transaction of
    two events; each commit queues one fan-out, and the fan-out queues each delivery after its own commit."""
    subscribe(superuser, url=URL, events=["version.registered", "gate.finished"])
    assert queued() == 1
    with transaction.atomic():
        event_recorded("version.registered", model_name=model.name)
        event_recorded("gate.finished", model_name=model.name)
    assert queued() == 2

    assert webhook_fan_out() == 2

    assert queued() == 4
    assert set(WebhookDelivery.objects.values_list("event", flat=True)) == {
        "version.registered",
        "gate.finished",
    }
    assert all(delivery.enqueued_at is not None for delivery in WebhookDelivery.objects.all())
