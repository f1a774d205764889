"""The admin: who may act on a model is changed through the guardian pages, and those save through
`model_permissions_set`, on the record like any change; models are made and edited through the services."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from guardian.shortcuts import get_group_perms, get_user_perms

from tests.factories import user_with_roles
from warehouse.audit.chain import chain_verify
from warehouse.audit.models import AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.registry.models import RegisteredModel


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _manage_user_url(model, user):
    return reverse("admin:registry_registeredmodel_permissions_manage_user", args=[model.pk, user.pk])


def _manage_group_url(model, group):
    return reverse("admin:registry_registeredmodel_permissions_manage_group", args=[model.pk, group.pk])


def test_it_grants_object_permissions_to_a_user_on_the_record(admin_client, superuser, model, outsider):
    response = admin_client.post(
        _manage_user_url(model, outsider), {"permissions": ["view_registeredmodel", "register_version"]}
    )

    assert response.status_code == 302
    assert set(get_user_perms(outsider, model)) == {"view_registeredmodel", "register_version"}
    event = AuditEvent.objects.get(action="model.permissions_changed")
    assert (event.actor_id, event.via, event.model_name, event.target_id) == (
        superuser.pk,
        "admin",
        "fraud-scorer",
        str(model.pk),
    )
    assert event.data == {
        "user": "oscar",
        "granted": ["register_version", "view_registeredmodel"],
        "revoked": [],
    }
    assert chain_verify(audit_events_in_sequence()).ok


def test_it_revokes_object_permissions_from_a_user_on_the_record(admin_client, model, contributor):
    assert "view_registeredmodel" in get_user_perms(contributor, model)  # the creator may see it

    response = admin_client.post(_manage_user_url(model, contributor), {"_save": "Save"})

    assert response.status_code == 302
    assert not get_user_perms(contributor, model)
    event = AuditEvent.objects.get(action="model.permissions_changed")
    assert event.data == {"user": "carol", "granted": [], "revoked": ["view_registeredmodel"]}


def test_it_changes_a_groups_object_permissions_on_the_record(admin_client, model, team):
    response = admin_client.post(
        _manage_group_url(model, team), {"permissions": ["view_registeredmodel", "edit_card"]}
    )

    assert response.status_code == 302
    assert set(get_group_perms(team, model)) == {"view_registeredmodel", "edit_card"}
    event = AuditEvent.objects.get(action="model.permissions_changed")
    assert event.data == {"group": "payments", "granted": ["edit_card"], "revoked": []}


def test_it_writes_no_event_when_nothing_changes(admin_client, model, team):
    response = admin_client.post(_manage_group_url(model, team), {"permissions": ["view_registeredmodel"]})

    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="model.permissions_changed").exists()


def test_it_shows_the_permission_pages_to_a_superuser(admin_client, model, outsider):
    assert (
        admin_client.get(reverse("admin:registry_registeredmodel_permissions", args=[model.pk])).status_code
        == 200
    )
    page = admin_client.get(_manage_user_url(model, outsider))
    assert page.status_code == 200
    assert "register_version" in page.content.decode()


def test_it_refuses_a_staff_member_who_is_not_a_superuser_on_the_record(client, model, outsider, team):
    clerk = user_with_roles("clara", teams=(team,))
    clerk.is_staff = True
    clerk.save()
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_registeredmodel", "view_registeredmodel"])
    )
    client.force_login(clerk)

    response = client.post(_manage_user_url(model, outsider), {"permissions": ["view_registeredmodel"]})

    assert response.status_code == 403
    assert not get_user_perms(outsider, model)
    denied = AuditEvent.objects.get(action="permission.denied")
    assert (denied.actor_id, denied.model_name) == (clerk.pk, "fraud-scorer")
    assert not AuditEvent.objects.filter(action="model.permissions_changed").exists()


def test_it_keeps_the_record_of_a_refused_model_edit(client, model, team):
    # The admin saves inside a transaction; the refusal's event must not be rolled back with it.
    clerk = user_with_roles("clara", teams=(team,))
    clerk.is_staff = True
    clerk.save()
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_registeredmodel", "view_registeredmodel"])
    )
    client.force_login(clerk)

    response = client.post(
        reverse("admin:registry_registeredmodel_change", args=[model.pk]),
        {"description": "Taken over.", "owner": clerk.pk, "team": team.pk},
    )

    assert response.status_code == 403
    model.refresh_from_db()
    assert (model.description, model.owner.username) == ("", "carol")
    denied = AuditEvent.objects.get(action="permission.denied")
    assert (denied.actor_id, denied.model_name, denied.data["attempted"]) == (
        clerk.pk,
        "fraud-scorer",
        "edit this model",
    )


# --- Models through the services -------------------------------------------------------------------------


def test_it_creates_a_model_through_the_service(admin_client, superuser, contributor, team):
    response = admin_client.post(
        reverse("admin:registry_registeredmodel_add"),
        {"name": "churn-predictor", "description": "Churn.", "owner": contributor.pk, "team": team.pk},
    )

    assert response.status_code == 302
    model = RegisteredModel.objects.get(name="churn-predictor")
    assert (model.owner, model.team, model.created_by) == (contributor, team, superuser)
    assert "view_registeredmodel" in get_group_perms(team, model)
    event = AuditEvent.objects.get(action="model.created", model_name="churn-predictor")
    assert (event.actor_id, event.via) == (superuser.pk, "admin")


@pytest.mark.parametrize("name", ["admin", "api", "Churn Predictor", "-churn"])
def test_it_refuses_a_name_the_service_would_refuse_as_a_form_error(admin_client, contributor, name):
    response = admin_client.post(
        reverse("admin:registry_registeredmodel_add"),
        {"name": name, "description": "", "owner": contributor.pk},
    )

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["name"]
    assert not RegisteredModel.objects.filter(name=name).exists()


def test_it_refuses_a_name_that_is_taken_as_a_form_error(admin_client, model, contributor):
    response = admin_client.post(
        reverse("admin:registry_registeredmodel_add"),
        {"name": "fraud-scorer", "description": "", "owner": contributor.pk},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"]
    assert RegisteredModel.objects.filter(name="fraud-scorer").count() == 1


def test_it_edits_a_model_through_the_service_and_keeps_its_name(admin_client, model, approver):
    other_team = Group.objects.create(name="risk")

    response = admin_client.post(
        reverse("admin:registry_registeredmodel_change", args=[model.pk]),
        {"name": "renamed", "description": "Now owned by risk.", "owner": approver.pk, "team": other_team.pk},
    )

    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.name, model.description, model.owner, model.team) == (
        "fraud-scorer",
        "Now owned by risk.",
        approver,
        other_team,
    )
    assert "view_registeredmodel" in get_group_perms(other_team, model)
    event = AuditEvent.objects.get(action="model.updated")
    assert event.data["after"]["description"] == "Now owned by risk."


def test_it_offers_no_delete_for_a_model(admin_client, model):
    url = reverse("admin:registry_registeredmodel_delete", args=[model.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert RegisteredModel.objects.filter(pk=model.pk).exists()


def test_the_audit_trail_is_read_only_in_the_admin(admin_client, model):
    event = AuditEvent.objects.order_by("sequence").first()
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])

    page = admin_client.get(change_url)

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"action": "forged"}).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert chain_verify(audit_events_in_sequence()).ok
