"""The admin shows subscriptions and deliveries read-only, and never the secret."""

from django.urls import reverse

from tests.webhooks.conftest import event_recorded, subscribe
from warehouse.webhooks.models import WebhookDelivery
from warehouse.webhooks.services import webhook_fan_out


def test_it_lists_and_shows_them_without_the_secret(client, superuser, model):
    subscription, secret = subscribe(superuser, url="https://hooks.example.com/in")
    event_recorded("version.registered", model_name=model.name)
    webhook_fan_out()
    delivery = WebhookDelivery.objects.get()
    client.force_login(superuser)

    pages = [
        reverse("admin:webhooks_webhooksubscription_changelist"),
        reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]),
        reverse("admin:webhooks_webhookdelivery_changelist"),
        reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert secret not in response.content.decode(), url
    assert "https://hooks.example.com/in" in client.get(pages[1]).content.decode()


def test_nothing_can_be_added_changed_or_deleted_there(client, superuser):
    subscription, _ = subscribe(superuser, url="https://hooks.example.com/in")
    client.force_login(superuser)

    assert client.get(reverse("admin:webhooks_webhooksubscription_add")).status_code == 403
    assert (
        client.get(reverse("admin:webhooks_webhooksubscription_delete", args=[subscription.pk])).status_code
        == 403
    )
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]),
        {"url": "https://evil.example.com/"},
    )
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.url == "https://hooks.example.com/in"
