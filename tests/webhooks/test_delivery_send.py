"""Sending a delivery to a real receiver on 127.0.0.1: signed, retried after a failure with backoff, given
up after the last attempt, sent once however often the task runs, and never sent to a private address
unless the setting allows it."""

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from tests.webhooks.conftest import event_recorded, subscribe
from warehouse import clock
from warehouse.webhooks.models import DeliveryState, WebhookDelivery
from warehouse.webhooks.services import (
    delivery_send,
    retry_delay_seconds,
    subscription_deactivate,
    webhook_fan_out,
)
from warehouse.webhooks.signing import signature_verify
from warehouse.webhooks.tasks import delivery_send_task

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def delivery_for(actor, url: str, model=None) -> tuple[WebhookDelivery, str]:
    """A subscription to `url`, one version.registered event, fanned out: its one pending delivery."""
    with clock.frozen_at(T0):
        subscription, secret = subscribe(actor, model=model, url=url)
        event_recorded("version.registered", model_name="fraud-scorer", data={"number": 7})
        assert webhook_fan_out() == 1
    return WebhookDelivery.objects.get(subscription=subscription), secret


def send_at(delivery: WebhookDelivery, moment: datetime) -> str | None:
    with clock.frozen_at(moment):
        return delivery_send(delivery_id=delivery.pk)


def state_of(delivery: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery.objects.get(pk=delivery.pk)


# --- Delivered, signed ----------------------------------------------------------------------------------


def test_it_delivers_a_signed_body_the_receiver_can_verify_with_the_secret_from_creation(superuser, receiver):
    delivery, secret = delivery_for(superuser, receiver.url)

    assert send_at(delivery, T0 + timedelta(seconds=1)) == DeliveryState.DELIVERED

    [request] = receiver.requests
    headers = request.headers
    assert request.method == "POST"
    assert request.path == "/hooks/warehouse?source=tests"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Warehouse-Webhooks/1"
    assert headers["x-warehouse-event"] == "version.registered"
    assert headers["x-warehouse-delivery"] == str(delivery.uuid)
    assert headers["x-warehouse-timestamp"] == str(int((T0 + timedelta(seconds=1)).timestamp()))
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.body == delivery.body.encode()
    now = (T0 + timedelta(seconds=2)).timestamp()
    assert signature_verify(
        secret, headers["x-warehouse-timestamp"], request.body, headers["x-warehouse-signature"], now=now
    )
    assert not signature_verify(
        "whsec_other",
        headers["x-warehouse-timestamp"],
        request.body,
        headers["x-warehouse-signature"],
        now=now,
    )
    body = json.loads(request.body)
    assert body["id"] == str(delivery.uuid)
    assert body["event"] == "version.registered"
    assert body["model"] == "fraud-scorer"
    assert body["data"] == {"number": 7}

    stored = state_of(delivery)
    assert stored.state == DeliveryState.DELIVERED
    assert (stored.attempts, stored.last_status_code, stored.last_error) == (1, 200, "")
    assert stored.delivered_at == T0 + timedelta(seconds=1)
    assert stored.response_excerpt == '{"ok": true}'
    assert stored.lease_expires_at is None


def test_it_connects_to_the_address_it_checked_and_names_the_host_in_the_host_header(
    superuser, receiver, monkeypatch
):
    """The URL names a host; it is resolved once (the network edge, stubbed here), and the connection goes
    to that address, never through a second lookup that could answer differently."""
    real_getaddrinfo = socket.getaddrinfo
    looked_up = []

    def getaddrinfo(host, port, *args, **kwargs):
        looked_up.append(host)
        if host == "hooks.example.test":
            return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    delivery, _ = delivery_for(superuser, f"http://hooks.example.test:{receiver.port}/in")

    assert send_at(delivery, T0 + timedelta(seconds=1)) == DeliveryState.DELIVERED

    assert looked_up.count("hooks.example.test") == 1
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert request.path == "/in"


def test_it_delivers_over_ipv6(superuser, receiver_v6):
    delivery, _ = delivery_for(superuser, receiver_v6.url)

    assert send_at(delivery, T0 + timedelta(seconds=1)) == DeliveryState.DELIVERED

    assert len(receiver_v6.requests) == 1
    assert receiver_v6.requests[0].headers["host"] == f"[::1]:{receiver_v6.port}"


# --- Retries --------------------------------------------------------------------------------------------


def test_it_retries_after_a_500_and_delivers_on_the_next_attempt(superuser, receiver, settings):
    receiver.answer(500)
    delivery, secret = delivery_for(superuser, receiver.url)

    assert send_at(delivery, T0) == DeliveryState.RETRYING
    failed = state_of(delivery)
    assert failed.attempts == 1
    assert failed.last_status_code == 500
    assert "HTTP 500" in failed.last_error
    assert failed.response_excerpt == "receiver says no"
    assert failed.next_attempt_at == T0 + timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS)
    assert failed.enqueued_at is None  # the sweeper queues it when it is due

    assert send_at(delivery, T0 + timedelta(seconds=1)) is None  # not due yet: nothing sent
    assert len(receiver.requests) == 1

    assert send_at(delivery, failed.next_attempt_at) == DeliveryState.DELIVERED
    delivered = state_of(delivery)
    assert (delivered.attempts, delivered.last_status_code, delivered.last_error) == (2, 200, "")
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    # The same delivery, the same body; signed anew for its own timestamp.
    assert first.headers["x-warehouse-delivery"] == second.headers["x-warehouse-delivery"]
    assert first.body == second.body
    for request in (first, second):
        stamp = request.headers["x-warehouse-timestamp"]
        assert signature_verify(
            secret, stamp, request.body, request.headers["x-warehouse-signature"], now=int(stamp)
        )


def test_the_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_MAX_SECONDS = 200

    assert [retry_delay_seconds(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 200, 200]


def test_it_gives_up_after_the_last_attempt(superuser, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(500, 503, 500, 200)
    delivery, _ = delivery_for(superuser, receiver.url)

    moment = T0
    states = []
    for _ in range(4):
        states.append(send_at(delivery, moment))
        moment = state_of(delivery).next_attempt_at + timedelta(seconds=1)

    assert states == [DeliveryState.RETRYING, DeliveryState.RETRYING, DeliveryState.FAILED, None]
    gave_up = state_of(delivery)
    assert gave_up.state == DeliveryState.FAILED
    assert gave_up.attempts == 3
    assert gave_up.last_status_code == 500
    assert gave_up.last_error.startswith("Gave up after 3 attempts.")
    assert len(receiver.requests) == 3


def test_a_redirect_is_not_followed(superuser, receiver):
    receiver.answer(302)
    receiver.redirect_to = receiver.url + "&followed=1"
    delivery, _ = delivery_for(superuser, receiver.url)

    assert send_at(delivery, T0) == DeliveryState.RETRYING

    assert len(receiver.requests) == 1
    assert state_of(delivery).last_status_code == 302


def test_a_receiver_that_is_down_is_retried(superuser, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    delivery, _ = delivery_for(superuser, f"http://127.0.0.1:{port}/")

    assert send_at(delivery, T0) == DeliveryState.RETRYING

    stored = state_of(delivery)
    assert stored.last_status_code is None
    assert "ConnectionRefusedError" in stored.last_error


# --- Exactly once per attempt ---------------------------------------------------------------------------


def test_the_task_run_twice_sends_once(superuser, receiver):
    delivery, _ = delivery_for(superuser, receiver.url)

    with clock.frozen_at(T0 + timedelta(seconds=1)):
        first = delivery_send_task.run(delivery.pk)
        second = delivery_send_task.run(delivery.pk)

    assert (first, second) == (DeliveryState.DELIVERED, None)
    assert len(receiver.requests) == 1
    assert state_of(delivery).attempts == 1


def test_a_delivery_held_by_a_live_worker_is_not_sent_again_but_one_whose_lease_expired_is(
    superuser, receiver, settings
):
    delivery, _ = delivery_for(superuser, receiver.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.SENDING, attempts=1, lease_expires_at=T0 + timedelta(seconds=60)
    )

    assert send_at(delivery, T0 + timedelta(seconds=30)) is None
    assert receiver.requests == []

    assert send_at(delivery, T0 + timedelta(seconds=61)) == DeliveryState.DELIVERED
    assert len(receiver.requests) == 1
    assert state_of(delivery).attempts == 2


def test_a_missing_delivery_is_nothing_to_do(db):
    assert delivery_send(delivery_id=987654) is None


def test_nothing_is_sent_for_a_deactivated_subscription(superuser, receiver):
    delivery, _ = delivery_for(superuser, receiver.url)

    subscription_deactivate(actor=superuser, subscription=delivery.subscription)

    assert send_at(delivery, T0 + timedelta(seconds=1)) is None
    assert state_of(delivery).state == DeliveryState.FAILED
    assert "deactivated" in state_of(delivery).last_error
    assert receiver.requests == []


# --- Private addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]"])
def test_a_literal_private_address_is_refused_at_delivery_and_nothing_is_sent(
    superuser, receiver, settings, host
):
    """Made while the setting allowed it, sent after it was turned off: refused for good, never sent."""
    url = f"http://{host}:{receiver.port}/hooks"
    delivery, _ = delivery_for(superuser, url)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    assert send_at(delivery, T0 + timedelta(seconds=1)) == DeliveryState.FAILED

    stored = state_of(delivery)
    assert "not sent to loopback, link-local or private addresses" in stored.last_error
    assert stored.attempts == 1
    assert stored.last_status_code is None
    assert receiver.requests == []
    assert send_at(delivery, T0 + timedelta(days=1)) is None  # final: never tried again


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], ["93.184.216.34", "127.0.0.1"], ["::ffff:10.0.0.1"]],
)
def test_a_host_name_resolving_to_a_private_address_is_refused_and_nothing_is_sent(
    superuser, receiver, settings, monkeypatch, answers
):
    """DNS is the network edge: stubbed to answer with private addresses, one of them the receiver's own.
    One private answer among public ones is enough to refuse."""
    delivery, _ = delivery_for(superuser, f"http://hooks.example.test:{receiver.port}/hooks")
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    def getaddrinfo(host, port, *args, **kwargs):
        assert host == "hooks.example.test"
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    assert send_at(delivery, T0 + timedelta(seconds=1)) == DeliveryState.FAILED

    stored = state_of(delivery)
    assert stored.last_error.startswith("hooks.example.test resolves to ")
    assert "Nothing was sent." in stored.last_error
    assert receiver.requests == []


def test_a_host_name_that_does_not_resolve_is_retried(superuser, settings, monkeypatch):
    delivery, _ = delivery_for(superuser, "https://hooks.example.test/in")

    def getaddrinfo(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    assert send_at(delivery, T0) == DeliveryState.RETRYING
    assert "Could not resolve the host" in state_of(delivery).last_error
