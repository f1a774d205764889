"""Changes to people and groups made in the admin are on the audit trail, in the admin's transaction."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from warehouse.accounts.services import api_token_create
from warehouse.audit.models import AuditEvent


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [],
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            data[flag] = "on"
    data.update(changes)
    return data


def test_adding_someone_to_a_role_group_is_audited(admin_client, superuser, viewer, team):
    approver_group = Group.objects.get(name="approver")
    url = reverse("admin:auth_user_change", args=[viewer.pk])

    response = admin_client.post(
        url,
        user_form(viewer, groups=[team.pk, approver_group.pk, *viewer.groups.values_list("pk", flat=True)]),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert viewer.groups.filter(name="approver").exists()
    event = AuditEvent.objects.get(action="user.changed")
    assert event.actor == superuser and event.via == "admin"
    groups = event.data["changed"]["groups"]
    assert "approver" not in groups["before"] and "approver" in groups["after"]


def test_making_someone_a_superuser_is_audited(admin_client, viewer):
    admin_client.post(
        reverse("admin:auth_user_change", args=[viewer.pk]), user_form(viewer, is_superuser="on")
    )

    event = AuditEvent.objects.get(action="user.changed")
    assert event.data["changed"] == {"is_superuser": {"before": False, "after": True}}


def test_a_group_gaining_a_permission_is_audited(admin_client):
    group = Group.objects.get(name="viewer")
    permission = Permission.objects.get(codename="signoff_production")

    response = admin_client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "viewer", "permissions": [permission.pk]},
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="group.changed")
    assert event.data["changed"]["permissions"] == {"before": [], "after": ["registry.signoff_production"]}


def test_a_new_person_is_audited(admin_client):
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newcomer",
            "password1": "a-long-unusual-passphrase-9",
            "password2": "a-long-unusual-passphrase-9",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="user.created")
    assert event.data["changed"]["username"] == {"before": None, "after": "newcomer"}


def test_a_password_change_is_audited_without_the_password(admin_client, viewer):
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[viewer.pk]),
        {
            "password1": "another-long-passphrase-7",
            "password2": "another-long-passphrase-7",
            "set_usable_password": "true",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="user.password_changed")
    assert "another-long-passphrase-7" not in str(event.data)


def test_only_a_superuser_may_revoke_tokens_in_the_admin(admin_client, viewer):
    issued = api_token_create(actor=viewer, user=viewer, name="laptop")
    staff = type(viewer).objects.create_user("stella", password="x-long-passphrase-1", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    changelist = reverse("admin:accounts_apitoken_changelist")
    client = Client()
    client.force_login(staff)

    refused = client.post(changelist, {"action": "revoke", "index": 0, "_selected_action": [issued.token.pk]})
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None
    admin_client.post(changelist, {"action": "revoke", "index": 0, "_selected_action": [issued.token.pk]})

    assert refused.status_code in (200, 302)
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1
