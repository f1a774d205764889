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


def test_deactivating_while_someone_redelivers_does_not_deadlock(superuser, monkeypatch, webhook_queue):
    """Deactivating locks the subscription, then its open deliveries; redelivering takes them in the same
    order. Interleaved (deactivate holds the subscription, redeliver starts), both finish."""
    import threading
    import time
    import uuid

    from django.contrib.auth.models import User
    from django.db import connections

    from warehouse import clock
    from warehouse.webhooks import services as webhook_services
    from warehouse.webhooks.models import WebhookSubscription
    from warehouse.webhooks.services import delivery_redeliver, subscription_create, subscription_deactivate

    subscription, _ = subscription_create(
        actor=superuser, model=None, url="https://hooks.example.com/x", events=["version.registered"]
    )
    delivery = WebhookDelivery.objects.create(
        uuid=uuid.uuid4(),
        subscription=subscription,
        event="version.registered",
        audit_sequence=1,
        body="{}",
        state=DeliveryState.RETRYING,
        attempts=1,
        next_attempt_at=clock.now(),
    )
    in_deactivate, go_on = threading.Event(), threading.Event()
    original = clock.now

    def held():
        if threading.current_thread().name == "deactivate" and not in_deactivate.is_set():
            in_deactivate.set()  # deactivate holds the subscription row now
            go_on.wait(10)
        return original()

    monkeypatch.setattr(webhook_services.clock, "now", held)
    results = {}

    def run(name, work):
        def body():
            try:
                results[name] = work()
            except BaseException as error:  # noqa: B036 - the test inspects whatever happened
                results[name] = error
            finally:
                connections.close_all()

        return threading.Thread(target=body, name=name)

    actor = User.objects.get(pk=superuser.pk)
    deactivate = run(
        "deactivate",
        lambda: subscription_deactivate(
            actor=actor, subscription=WebhookSubscription.objects.get(pk=subscription.pk)
        ),
    )
    redeliver = run(
        "redeliver",
        lambda: delivery_redeliver(
            actor=actor,
            delivery=WebhookDelivery.objects.select_related("subscription__model").get(pk=delivery.pk),
        ),
    )
    deactivate.start()
    assert in_deactivate.wait(10)
    redeliver.start()
    time.sleep(1.0)
    go_on.set()
    deactivate.join(30)
    redeliver.join(30)
    errors = {name: value for name, value in results.items() if isinstance(value, BaseException)}
    # The redelivery either ran first or is refused because the subscription is inactive; never a deadlock.
    assert all(getattr(error, "code", "") == "inactive" for error in errors.values()), results
    assert WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.FAILED
