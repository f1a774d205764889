"""Alert receivers: made by superusers with a token shown once (service, command, admin), revoked."""

import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.incidents.conftest import ALERTMANAGER_FIRING, example_bytes, post_alerts
from warehouse.audit.models import AuditEvent
from warehouse.errors import InvalidInput
from warehouse.incidents.models import AlertPayload, AlertReceiver, Incident
from warehouse.incidents.services import receiver_create, receiver_revoke


def test_it_makes_a_receiver_with_a_token_kept_only_as_a_digest(superuser):
    receiver, token = receiver_create(actor=superuser, name="prod-alerts", description="Production")

    assert token.startswith(f"whr_{receiver.token_prefix}_")
    assert len(token) > 40
    assert receiver.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(AlertReceiver.objects.filter(pk=receiver.pk).values().get())
    assert receiver.model_labels == ["model_name", "model"]
    assert receiver.version_labels == ["model_version"]
    assert receiver.created_by == superuser and receiver.active
    event = AuditEvent.objects.get(action="alert_receiver.created")
    assert event.actor_id == superuser.pk and event.target_id == str(receiver.pk)
    assert event.data["prefix"] == receiver.token_prefix
    assert token not in str(event.data)


def test_only_a_superuser_makes_a_receiver_and_a_refusal_is_on_the_record(contributor):
    with pytest.raises(PermissionDenied):
        receiver_create(actor=contributor, name="sneaky")
    assert not AlertReceiver.objects.exists()
    refused = AuditEvent.objects.get(action="permission.denied")
    assert refused.actor_id == contributor.pk and refused.data["attempted"] == "create an alert receiver"


@pytest.mark.parametrize(
    "options, field",
    [
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "ok", "description": "d" * 301}, "description"),
        ({"name": "ok", "model_labels": []}, "model_labels"),
        ({"name": "ok", "model_labels": ["model-name"]}, "model_labels"),
        ({"name": "ok", "version_labels": ["v", "v"]}, "version_labels"),
    ],
)
def test_it_refuses_a_bad_receiver(superuser, options, field):
    with pytest.raises(InvalidInput) as raised:
        receiver_create(actor=superuser, **options)
    assert field in raised.value.errors
    assert not AlertReceiver.objects.exists()


def test_a_receiver_name_is_taken_once(superuser):
    receiver_create(actor=superuser, name="prod-alerts")
    with pytest.raises(InvalidInput) as raised:
        receiver_create(actor=superuser, name="prod-alerts")
    assert "exists already" in raised.value.errors["name"][0]


def test_revoking_is_for_superusers_and_is_audited(superuser, contributor):
    receiver, _ = receiver_create(actor=superuser, name="prod-alerts")
    with pytest.raises(PermissionDenied):
        receiver_revoke(actor=contributor, receiver=receiver)
    receiver_revoke(actor=superuser, receiver=receiver)
    receiver_revoke(actor=superuser, receiver=receiver)  # twice: once on the record
    receiver.refresh_from_db()
    assert not receiver.active
    assert AuditEvent.objects.filter(action="alert_receiver.revoked").count() == 1


def test_the_command_prints_the_token_once_and_it_works(superuser, model):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_alert_receiver",
        "grafana-prod",
        "--description",
        "Grafana in production",
        "--model-label",
        "service",
        "--model-label",
        "model_name",
        stdout=out,
        stderr=err,
    )
    token = out.getvalue().strip()
    receiver = AlertReceiver.objects.get(name="grafana-prod")
    assert receiver.model_labels == ["service", "model_name"]
    assert receiver.description == "Grafana in production"
    assert "/hooks/grafana/grafana-prod" in err.getvalue() and token not in err.getvalue()
    assert AuditEvent.objects.get(action="alert_receiver.created").via == "command"

    response = post_alerts(
        "alertmanager", example_bytes(ALERTMANAGER_FIRING), token=token, receiver="grafana-prod"
    )
    assert response.status_code == 200
    assert Incident.objects.get().model == model


def test_the_command_says_what_is_wrong(superuser):
    with pytest.raises(CommandError, match="name: "):
        call_command("create_alert_receiver", "not a slug", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="No active superuser named 'nobody'"):
        call_command("create_alert_receiver", "ok", "--by", "nobody", stdout=io.StringIO())


# --- Admin ------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_the_admin_makes_a_receiver_and_shows_its_token_once(admin_client, superuser, model):
    response = admin_client.post(
        reverse("admin:incidents_alertreceiver_add"),
        {
            "name": "from-admin",
            "description": "made in the admin",
            "model_labels": "model_name, model",
            "version_labels": "model_version",
        },
    )
    assert response.status_code == 200, response.content
    receiver = AlertReceiver.objects.get(name="from-admin")
    page = response.content.decode()
    start = page.index('<code id="receiver-token">') + len('<code id="receiver-token">')
    token = page[start : page.index("</code>", start)]
    assert token.startswith(f"whr_{receiver.token_prefix}_")
    assert "no-store" in response["Cache-Control"]
    assert "/hooks/alertmanager/from-admin" in page
    event = AuditEvent.objects.get(action="alert_receiver.created")
    assert event.actor_id == superuser.pk and event.via == "admin"

    # The token works, and is nowhere to be seen again.
    assert post_alerts("alertmanager", example_bytes(ALERTMANAGER_FIRING), token=token, receiver="from-admin")
    detail = admin_client.get(reverse("admin:incidents_alertreceiver_change", args=[receiver.pk]))
    assert detail.status_code == 200
    assert token not in detail.content.decode() and receiver.token_digest not in detail.content.decode()
    listing = admin_client.get(reverse("admin:incidents_alertreceiver_changelist"))
    assert token not in listing.content.decode()


def test_the_admin_form_says_what_is_wrong(admin_client):
    response = admin_client.post(
        reverse("admin:incidents_alertreceiver_add"),
        {
            "name": "bad name",
            "description": "",
            "model_labels": "model-name",
            "version_labels": "model_version",
        },
    )
    assert response.status_code == 200
    assert "Enter a valid “slug”" in response.content.decode()
    assert "is not a label name" in response.content.decode()
    assert not AlertReceiver.objects.exists()


def test_the_admin_revokes_receivers(admin_client, receiver):
    response = admin_client.post(
        reverse("admin:incidents_alertreceiver_changelist"),
        {"action": "revoke", "_selected_action": [receiver.pk]},
    )
    assert response.status_code == 302
    receiver.refresh_from_db()
    assert not receiver.active
    assert AuditEvent.objects.filter(action="alert_receiver.revoked").count() == 1


def test_payloads_and_incidents_are_read_only_in_the_admin(admin_client, deliver, model):
    deliver("alertmanager", example_bytes(ALERTMANAGER_FIRING))
    deliver("alertmanager", b"not json")
    payload, incident = AlertPayload.objects.first(), Incident.objects.get()
    for name, obj in (("alertpayload", payload), ("incident", incident)):
        listing = admin_client.get(reverse(f"admin:incidents_{name}_changelist"))
        assert listing.status_code == 200
        detail = admin_client.get(reverse(f"admin:incidents_{name}_change", args=[obj.pk]))
        assert detail.status_code == 200
        assert 'name="_save"' not in detail.content.decode()
        assert admin_client.get(reverse(f"admin:incidents_{name}_add")).status_code == 403
    assert "not JSON" in admin_client.get(reverse("admin:incidents_alertpayload_changelist")).content.decode()


def test_only_superusers_make_receivers_in_the_admin(client, contributor):
    contributor.is_staff = True
    contributor.save()
    client.force_login(contributor)
    assert client.get(reverse("admin:incidents_alertreceiver_add")).status_code == 403
