"""Roles are groups made by `migrate`, each holding exactly the permissions of what that role does."""

import pytest
from django.contrib.auth.models import Group, Permission

from warehouse.accounts.roles import ROLE_PERMISSIONS, Role, role_groups_sync


def _perms(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


EXPECTED = {
    "viewer": set(),
    "contributor": {
        "registry.add_registeredmodel",
        "registry.register_version",
        "registry.archive_version",
        "registry.edit_card",
        "registry.request_promotion",
    },
    "reviewer": {"registry.signoff_staging"},
    "approver": {"registry.signoff_production", "registry.archive_version", "registry.archive_production"},
    "incident-responder": {"registry.respond_incident"},
    "policy-admin": {"registry.admin_policy"},
}


def test_migrate_makes_a_group_for_each_role(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}


@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
def test_each_role_group_holds_exactly_its_permissions(db, role):
    assert _perms(Group.objects.get(name=role.value)) == EXPECTED[role.value]
    assert set(ROLE_PERMISSIONS[role]) == EXPECTED[role.value]


def test_no_role_may_override_a_gate_or_read_the_whole_trail(db):
    # Overriding is a separate, deliberate grant (DESIGN invariant 5); so is reading every model's audit.
    for role in Role:
        assert not {"registry.override_gate", "audit.view_auditevent"} & _perms(
            Group.objects.get(name=role.value)
        )


def test_every_permission_a_role_names_exists(db):
    for perms in ROLE_PERMISSIONS.values():
        for perm in perms:
            app_label, codename = perm.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), (
                perm
            )


def test_syncing_again_changes_nothing(db):
    before = {group.name: _perms(group) for group in Group.objects.all()}

    role_groups_sync()

    assert {group.name: _perms(group) for group in Group.objects.all()} == before


def test_syncing_keeps_what_an_admin_added(db):
    reviewers = Group.objects.get(name=Role.REVIEWER.value)
    reviewers.permissions.add(Permission.objects.get(codename="override_gate"))

    role_groups_sync()

    assert _perms(reviewers) == {"registry.signoff_staging", "registry.override_gate"}


def test_syncing_restores_a_deleted_role(db):
    Group.objects.filter(name=Role.APPROVER.value).delete()

    role_groups_sync()

    assert _perms(Group.objects.get(name=Role.APPROVER.value)) == EXPECTED["approver"]
