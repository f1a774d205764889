"""The webhook pages: the ladder (anonymous → sign-in, a model they cannot see → 404, no permission → 403
and on the record, permission → 200), the secret shown once, the forms, and queries that do not grow with
deliveries."""

import re

import pytest
from django.urls import reverse

from tests.registry.test_pages import assert_queries_do_not_grow
from tests.webhooks.conftest import event_recorded, subscribe
from warehouse.audit.models import AuditEvent
from warehouse.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription
from warehouse.webhooks.services import webhook_fan_out

URL = "https://hooks.example.com/warehouse"
LIST = reverse("webhooks:subscriptions")


def detail(subscription) -> str:
    return reverse("webhooks:subscription", args=[subscription.pk])


@pytest.fixture
def on_model(policy_admin, model):
    return subscribe(policy_admin, model=model, url=URL + "/model", description="rollout controller")[0]


@pytest.fixture
def everywhere(superuser):
    return subscribe(superuser, url=URL + "/all")[0]


def deliveries_for(subscription, count: int) -> None:
    """Grow `subscription`'s deliveries to `count` (events of its model, fanned out)."""
    name = subscription.model.name if subscription.model_id else "fraud-scorer"
    for _ in range(count - WebhookDelivery.objects.filter(subscription=subscription).count()):
        event_recorded("version.registered", model_name=name)
    webhook_fan_out()


# --- The ladder -----------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, on_model):
    for url in (LIST, detail(on_model)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:sign-in"))


def test_a_model_they_cannot_see_is_a_404(client, outsider, on_model):
    client.force_login(outsider)

    assert client.get(detail(on_model)).status_code == 404
    assert client.post(reverse("webhooks:deactivate", args=[on_model.pk])).status_code == 404
    assert WebhookSubscription.objects.get(pk=on_model.pk).active


def test_no_such_webhook_is_a_404(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("webhooks:subscription", args=[999999])).status_code == 404


@pytest.mark.parametrize("who", ["viewer", "contributor"])
def test_seeing_the_model_without_the_policy_permission_is_a_403_on_the_record(
    client, request, on_model, who
):
    client.force_login(request.getfixturevalue(who))

    assert client.get(detail(on_model)).status_code == 403
    assert client.post(reverse("webhooks:deactivate", args=[on_model.pk])).status_code == 403

    assert WebhookSubscription.objects.get(pk=on_model.pk).active
    assert AuditEvent.objects.filter(action="permission.denied").count() == 2


def test_a_global_subscription_is_for_superusers(client, policy_admin, everywhere):
    client.force_login(policy_admin)
    assert client.get(detail(everywhere)).status_code == 403


def test_a_policy_admin_manages_their_models_webhooks(client, policy_admin, on_model, everywhere):
    client.force_login(policy_admin)

    listing = client.get(LIST)
    assert listing.status_code == 200
    assert list(listing.context["subscriptions"]) == [on_model]  # not the global one
    page = client.get(detail(on_model))
    assert page.status_code == 200
    assert "rollout controller" in page.content.decode()


def test_a_superuser_sees_every_subscription(client, superuser, on_model, everywhere):
    client.force_login(superuser)
    assert set(client.get(LIST).context["subscriptions"]) == {on_model, everywhere}


def test_someone_who_manages_nothing_gets_no_form(client, viewer, on_model):
    client.force_login(viewer)

    response = client.get(LIST)

    assert response.status_code == 200
    assert list(response.context["subscriptions"]) == []
    assert "You manage no webhooks" in response.content.decode()
    assert 'action="/webhooks/#new"' not in response.content.decode()


# --- Subscribing ----------------------------------------------------------------------------------------


def test_subscribing_shows_the_secret_once(client, policy_admin, model):
    client.force_login(policy_admin)
    form = client.get(LIST).content.decode()
    assert 'name="csrfmiddlewaretoken"' in form
    assert f'<option value="{model.name}">' in form
    assert "Every model (global)" not in form  # not a superuser

    response = client.post(
        LIST,
        {
            "model": model.name,
            "url": URL,
            "events": ["version.registered", "version.rolled_back"],
            "description": "",
        },
    )

    subscription = WebhookSubscription.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(subscription)
    first = client.get(detail(subscription))
    assert subscription.secret in first.content.decode()
    assert "Copy it now" in first.content.decode()
    assert "no-store" in first["Cache-Control"]
    again = client.get(detail(subscription))
    assert subscription.secret not in again.content.decode()
    assert subscription.events == ["version.registered", "version.rolled_back"]


def test_a_superuser_subscribes_to_every_model(client, superuser):
    client.force_login(superuser)
    assert "Every model (global)" in client.get(LIST).content.decode()

    response = client.post(LIST, {"model": "", "url": URL, "events": ["gate.finished"]})

    assert response.status_code == 302
    assert WebhookSubscription.objects.get().model is None


def test_the_form_shows_what_is_wrong(client, superuser, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client.force_login(superuser)

    response = client.post(LIST, {"model": "", "url": "http://169.254.169.254/latest", "events": []})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "private addresses" in errors["url"][0]
    assert errors["events"] == ["Choose at least one event."]
    assert not WebhookSubscription.objects.exists()


def test_subscribing_to_a_model_without_the_permission_is_a_403(client, contributor, model):
    client.force_login(contributor)

    response = client.post(LIST, {"model": model.name, "url": URL, "events": ["gate.finished"]})

    assert response.status_code == 403
    assert not WebhookSubscription.objects.exists()
    assert AuditEvent.objects.filter(action="permission.denied").exists()


def test_subscribing_to_every_model_without_being_a_superuser_is_a_403(client, policy_admin):
    client.force_login(policy_admin)
    assert client.post(LIST, {"model": "", "url": URL, "events": ["gate.finished"]}).status_code == 403


def test_subscribing_to_a_model_they_cannot_see_is_a_404(client, outsider, model):
    client.force_login(outsider)
    assert (
        client.post(LIST, {"model": model.name, "url": URL, "events": ["gate.finished"]}).status_code == 404
    )


# --- Deliveries, deactivating, redelivering -------------------------------------------------------------


def test_the_page_shows_each_delivery_with_its_state(client, policy_admin, on_model):
    deliveries_for(on_model, 2)
    failed, pending = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=failed.pk).update(
        state=DeliveryState.FAILED, attempts=8, last_status_code=502, last_error="Gave up after 8 attempts."
    )
    client.force_login(policy_admin)

    html = client.get(detail(on_model)).content.decode()

    assert "Failed (gave up)" in html and "HTTP 502" in html and "Gave up after 8 attempts." in html
    assert "Pending" in html
    assert str(failed.uuid) in html and str(pending.uuid) in html
    redeliver = reverse("webhooks:redeliver", args=[on_model.pk, failed.uuid])
    assert f'action="{redeliver}"' in html
    assert reverse("webhooks:redeliver", args=[on_model.pk, pending.uuid]) not in html  # already on its way


def test_redeliver_button_sends_again(client, policy_admin, on_model):
    deliveries_for(on_model, 1)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(state=DeliveryState.FAILED, attempts=8)
    client.force_login(policy_admin)

    response = client.post(reverse("webhooks:redeliver", args=[on_model.pk, delivery.uuid]))

    assert response.status_code == 302
    assert WebhookDelivery.objects.get().state == DeliveryState.PENDING
    assert AuditEvent.objects.filter(action="webhook.redelivered").exists()


def test_redelivering_one_on_its_way_says_why_not(client, policy_admin, on_model):
    deliveries_for(on_model, 1)
    delivery = WebhookDelivery.objects.get()
    client.force_login(policy_admin)

    response = client.post(reverse("webhooks:redeliver", args=[on_model.pk, delivery.uuid]), follow=True)

    assert "already on its way" in response.content.decode()
    refused = AuditEvent.objects.get(action="webhook.redeliver_refused")
    assert refused.data["code"] == "in_flight" and refused.actor == policy_admin


def test_the_deactivate_button(client, policy_admin, on_model):
    client.force_login(policy_admin)

    response = client.post(reverse("webhooks:deactivate", args=[on_model.pk]), follow=True)

    assert response.status_code == 200
    assert not WebhookSubscription.objects.get(pk=on_model.pk).active
    assert "Deactivated" in response.content.decode()
    assert 'action="' + reverse("webhooks:deactivate", args=[on_model.pk]) not in response.content.decode()


def test_every_form_carries_a_csrf_token(client, policy_admin, on_model):
    deliveries_for(on_model, 1)
    WebhookDelivery.objects.update(state=DeliveryState.FAILED)
    client.force_login(policy_admin)

    for url in (LIST, detail(on_model)):
        html = client.get(url).content.decode()
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, flags=re.S)
        assert forms
        assert all("csrfmiddlewaretoken" in form for form in forms)


def test_the_nav_links_to_webhooks_for_those_who_manage_some(client, policy_admin, viewer, model):
    client.force_login(policy_admin)
    assert f'href="{LIST}"' in client.get(reverse("home")).content.decode()

    client.force_login(viewer)
    assert f'href="{LIST}"' not in client.get(reverse("home")).content.decode()


# --- Query counts ---------------------------------------------------------------------------------------


def test_the_subscription_page_runs_the_same_queries_whatever_the_deliveries(
    client, policy_admin, on_model, django_assert_max_num_queries
):
    client.force_login(policy_admin)

    def build(rows: int) -> str:
        deliveries_for(on_model, rows)
        return detail(on_model)

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=6, build=build)


def test_the_list_runs_the_same_queries_whatever_the_subscriptions(
    client, policy_admin, model, django_assert_max_num_queries
):
    client.force_login(policy_admin)

    def build(rows: int) -> str:
        for _ in range(rows - WebhookSubscription.objects.count()):
            subscription, _ = subscribe(policy_admin, model=model, url=URL)
            deliveries_for(subscription, 2)
        return LIST

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=4, build=build)
