"""Races on PostgreSQL with real threads: fan-outs that meet write each delivery once, and workers that
claim the same delivery send it once. SQLite serialises every writer on its file lock, which proves nothing
about row locks, so these run on PostgreSQL only."""

import pytest

from tests.registry.test_concurrency import at_once
from tests.webhooks.conftest import event_recorded, subscribe
from warehouse.webhooks.models import DeliveryState, WebhookDelivery
from warehouse.webhooks.services import delivery_send, webhook_fan_out

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_fan_outs_write_each_delivery_once(superuser, model, webhook_queue):
    first, _ = subscribe(superuser, url="https://hooks.example.com/1")
    second, _ = subscribe(superuser, model=model, url="https://hooks.example.com/2")
    for _ in range(20):
        event_recorded("version.registered", model_name=model.name)

    written = at_once(lambda _: webhook_fan_out(), count=6)

    assert all(isinstance(count, int) for count in written), written
    assert sum(written) == 40
    assert WebhookDelivery.objects.filter(subscription=first).count() == 20
    assert WebhookDelivery.objects.filter(subscription=second).count() == 20


def test_workers_claiming_the_same_delivery_send_it_once(superuser, model, receiver, webhook_queue):
    subscribe(superuser, url=receiver.url)
    event_recorded("version.registered", model_name=model.name)
    webhook_fan_out()
    delivery = WebhookDelivery.objects.get()

    outcomes = at_once(lambda _: delivery_send(delivery_id=delivery.pk), count=8)

    assert outcomes.count(DeliveryState.DELIVERED) == 1 and outcomes.count(None) == 7, outcomes
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1
