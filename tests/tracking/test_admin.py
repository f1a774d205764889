"""Superusers configure tracking servers in the admin, through the service; the credential is shown as its
variable's name and whether it is set, never its value."""

from django.urls import reverse

from warehouse.audit.models import AuditEvent
from warehouse.tracking.models import TrackingServer
from warehouse.tracking.services import tracking_server_configure

ENV = "WAREHOUSE_TRACKING_TOKEN_MLFLOW_PROD"
SECRET = "mlflow-token-3c9d1f0e7b2a4d6e"


def form(**overrides):
    return {
        "name": "mlflow-prod",
        "kind": "mlflow",
        "url": "https://mlflow.internal.example:5000",
        "credential_env": ENV,
        "active": "on",
        **overrides,
    }


def test_a_superuser_adds_and_changes_a_server_on_the_record(client, superuser):
    client.force_login(superuser)

    response = client.post(reverse("admin:tracking_trackingserver_add"), form())

    assert response.status_code == 302
    server = TrackingServer.objects.get()
    assert server.created_by == superuser
    assert AuditEvent.objects.get(action="tracking_server.configured").actor == superuser

    response = client.post(
        reverse("admin:tracking_trackingserver_change", args=[server.pk]),
        form(name="ignored", url="https://mlflow2.internal.example"),
    )

    assert response.status_code == 302
    server.refresh_from_db()
    assert (server.name, server.url) == ("mlflow-prod", "https://mlflow2.internal.example")
    assert AuditEvent.objects.get(action="tracking_server.changed").data["changes"]["url"]["after"] == (
        "https://mlflow2.internal.example"
    )


def test_a_wrong_value_is_a_form_error(client, superuser):
    client.force_login(superuser)

    response = client.post(
        reverse("admin:tracking_trackingserver_add"),
        form(url="https://user:pw@mlflow.example", credential_env=SECRET),
    )

    assert response.status_code == 200
    assert "Put no credentials in the URL" in response.content.decode()
    assert "Name an environment variable" in response.content.decode()
    assert not TrackingServer.objects.exists()


def test_the_pages_show_whether_the_credential_is_set_never_its_value(client, superuser, monkeypatch):
    server = tracking_server_configure(
        actor=superuser, name="mlflow-prod", url="https://mlflow.internal.example", credential_env=ENV
    )
    client.force_login(superuser)
    pages = [
        reverse("admin:tracking_trackingserver_changelist"),
        reverse("admin:tracking_trackingserver_change", args=[server.pk]),
    ]

    monkeypatch.delenv(ENV, raising=False)
    for url in pages:
        assert f"{ENV} (not set)" in client.get(url).content.decode(), url

    monkeypatch.setenv(ENV, SECRET)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert f"{ENV} (set)" in page, url
        assert SECRET not in page, url


def test_no_one_else_adds_or_changes_one(client, superuser, policy_admin):
    server = tracking_server_configure(
        actor=superuser, name="mlflow-prod", url="https://mlflow.internal.example", credential_env=ENV
    )
    policy_admin.is_staff = True
    policy_admin.save()
    client.force_login(policy_admin)

    assert client.post(reverse("admin:tracking_trackingserver_add"), form(name="x")).status_code == 403
    response = client.post(
        reverse("admin:tracking_trackingserver_change", args=[server.pk]), form(url="https://evil.example")
    )
    assert response.status_code == 403
    server.refresh_from_db()
    assert server.url == "https://mlflow.internal.example"


def test_a_taken_name_is_a_form_error(client, superuser):
    tracking_server_configure(
        actor=superuser, name="mlflow-prod", url="https://mlflow.internal.example", credential_env=ENV
    )
    client.force_login(superuser)

    response = client.post(reverse("admin:tracking_trackingserver_add"), form())

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert TrackingServer.objects.count() == 1
