"""Subscribing, deactivating and redelivering: who may, what is checked, and what goes on the record."""

import pytest
from django.core.exceptions import PermissionDenied

from tests.webhooks.conftest import event_recorded, subscribe
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict, InvalidInput
from warehouse.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from warehouse.webhooks.services import (
    delivery_redeliver,
    subscription_create,
    subscription_deactivate,
    webhook_fan_out,
)

URL = "https://hooks.example.com/warehouse/T0KEN?key=s3cret"


def test_a_policy_admin_subscribes_to_a_model_and_gets_the_secret_once(policy_admin, model):
    subscription, secret = subscribe(
        policy_admin, model=model, url=URL, events=["gate.finished", "version.registered"], description="CD"
    )

    assert secret.startswith("whsec_") and len(secret) > 40
    stored = WebhookSubscription.objects.get(pk=subscription.pk)
    assert stored.secret == secret
    assert stored.model == model
    assert stored.events == ["version.registered", "gate.finished"]  # in the list's own order
    assert stored.active and stored.created_by == policy_admin
    event = AuditEvent.objects.get(action="webhook.subscribed")
    assert stored.starts_after_sequence == event.sequence
    assert (event.actor_id, event.model_name, event.target_id) == (
        policy_admin.pk,
        model.name,
        str(stored.pk),
    )
    # The trail says where events go, but keeps neither the secret nor the path and query, which often
    # carry a token of the receiver's.
    assert event.data["url"] == "https://hooks.example.com"
    assert (
        secret not in str(event.data) and "T0KEN" not in str(event.data) and "s3cret" not in str(event.data)
    )


def test_two_subscriptions_get_different_secrets(superuser):
    _, first = subscribe(superuser, url=URL)
    _, second = subscribe(superuser, url=URL)
    assert first != second


def test_a_superuser_subscribes_to_every_model(superuser):
    subscription, _ = subscribe(superuser, url=URL)
    assert subscription.model is None and subscription.is_global


@pytest.mark.parametrize("who", ["policy_admin", "contributor", "viewer", "outsider"])
def test_only_a_superuser_subscribes_to_every_model(request, who):
    person = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        subscribe(person, url=URL)

    assert not WebhookSubscription.objects.exists()
    refusal = AuditEvent.objects.get(action="permission.denied")
    assert refusal.data["permission"] == "superuser"


@pytest.mark.parametrize("who", ["contributor", "viewer", "outsider", "approver"])
def test_a_model_subscription_needs_the_policy_permission_on_it(request, model, who):
    person = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        subscribe(person, model=model, url=URL)

    assert not WebhookSubscription.objects.exists()
    refusal = AuditEvent.objects.get(action="permission.denied")
    assert refusal.data["permission"] == "registry.admin_policy"
    assert refusal.model_name == model.name


def test_the_permission_is_checked_before_the_input(contributor, model):
    with pytest.raises(PermissionDenied):
        subscribe(contributor, model=model, url="ftp://nope", events=["nope"])


def test_it_names_each_field_that_is_wrong(superuser):
    with pytest.raises(InvalidInput) as caught:
        subscription_create(
            actor=superuser,
            model=None,
            url="ftp://hooks.example.com",
            events=["version.deleted"],
            description="x" * 201,
        )

    assert set(caught.value.errors) == {"url", "events", "description"}
    assert "version.deleted" in caught.value.errors["events"][0]
    assert not WebhookSubscription.objects.exists()


def test_it_needs_at_least_one_event(superuser):
    with pytest.raises(InvalidInput) as caught:
        subscription_create(actor=superuser, model=None, url=URL, events=[])
    assert caught.value.errors == {"events": ["Choose at least one event."]}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost/hook",
    ],
)
def test_a_literal_private_address_is_refused_at_creation(superuser, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(InvalidInput) as caught:
        subscription_create(actor=superuser, model=None, url=url, events=["version.registered"])

    [problem] = caught.value.errors["url"]
    assert "not sent to loopback, link-local or private addresses" in problem
    assert not WebhookSubscription.objects.exists()


# Loopback as the resolver reads it in other spellings: hexadecimal, one 32-bit number, octal, short forms,
# a trailing dot, and digits that IDNA folds to ASCII.
LOOPBACK_SPELLINGS = [
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0x7f.1",
    "0",
    "127.0.0.1.",
    "\u2460\u2461\u2466.0.0.1",
    "\uff11\uff12\uff17.0.0.1",
    "[::ffff:7f00:1]",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_at_creation(superuser, settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(InvalidInput) as caught:
        subscription_create(
            actor=superuser, model=None, url=f"http://{host}/hook", events=["version.registered"]
        )

    [problem] = caught.value.errors["url"]
    assert "not sent to loopback, link-local or private addresses" in problem
    assert not WebhookSubscription.objects.exists()


def test_the_setting_allows_a_private_address(superuser, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    subscription, _ = subscribe(superuser, url="http://10.0.0.1/hook")
    assert subscription.url == "http://10.0.0.1/hook"


# --- Deactivating ---------------------------------------------------------------------------------------


def test_deactivating_stops_sending_and_gives_up_what_was_on_its_way(policy_admin, model):
    subscription, _ = subscribe(policy_admin, model=model, url=URL)
    event_recorded("version.registered", model_name=model.name)
    webhook_fan_out()

    subscription_deactivate(actor=policy_admin, subscription=subscription)

    subscription.refresh_from_db()
    assert not subscription.active and subscription.deactivated_at is not None
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.state == DeliveryState.FAILED
    event = AuditEvent.objects.get(action="webhook.deactivated")
    assert event.data["deliveries_given_up"] == 1
    # Again: nothing to do, nothing recorded.
    subscription_deactivate(actor=policy_admin, subscription=subscription)
    assert AuditEvent.objects.filter(action="webhook.deactivated").count() == 1


def test_deactivating_needs_the_same_permission_as_subscribing(superuser, policy_admin, contributor, model):
    on_model, _ = subscribe(policy_admin, model=model, url=URL)
    everywhere, _ = subscribe(superuser, url=URL)

    with pytest.raises(PermissionDenied):
        subscription_deactivate(actor=contributor, subscription=on_model)
    with pytest.raises(PermissionDenied):
        subscription_deactivate(actor=policy_admin, subscription=everywhere)

    assert WebhookSubscription.objects.filter(active=True).count() == 2


# --- Redelivering ---------------------------------------------------------------------------------------


@pytest.fixture
def failed_delivery(policy_admin, model):
    subscription, _ = subscribe(policy_admin, model=model, url=URL)
    event_recorded("version.registered", model_name=model.name)
    webhook_fan_out()
    WebhookDelivery.objects.update(state=DeliveryState.FAILED, attempts=8, last_error="Gave up")
    return WebhookDelivery.objects.get(subscription=subscription)


def test_redelivering_starts_a_delivery_again_from_its_first_attempt(
    policy_admin, failed_delivery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery_redeliver(actor=policy_admin, delivery=failed_delivery)

    stored = WebhookDelivery.objects.get(pk=failed_delivery.pk)
    assert (stored.state, stored.attempts, stored.enqueued_at) == (DeliveryState.PENDING, 0, None)
    assert stored.uuid == failed_delivery.uuid and stored.body == failed_delivery.body
    assert len(callbacks) == 1  # queued after commit
    event = AuditEvent.objects.get(action="webhook.redelivered")
    assert event.data == {
        "delivery": str(stored.uuid),
        "event": "version.registered",
        "previous_state": "failed",
    }


def test_a_delivery_on_its_way_is_not_redelivered(policy_admin, failed_delivery):
    WebhookDelivery.objects.update(state=DeliveryState.PENDING)

    with pytest.raises(Conflict):
        delivery_redeliver(actor=policy_admin, delivery=failed_delivery)


def test_redelivering_needs_the_permission(contributor, failed_delivery):
    with pytest.raises(PermissionDenied):
        delivery_redeliver(actor=contributor, delivery=failed_delivery)
    assert WebhookDelivery.objects.get(pk=failed_delivery.pk).state == DeliveryState.FAILED
