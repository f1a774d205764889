"""Roles are groups; each carries the permissions of what that role does.

A role says *what* someone may do; object permissions on a RegisteredModel (django-guardian) say *where*.
See `warehouse.accounts.permissions` for how the two combine.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import TextChoices


class Role(TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    REVIEWER = "reviewer", "Reviewer"
    APPROVER = "approver", "Approver"
    INCIDENT_RESPONDER = "incident-responder", "Incident responder"
    POLICY_ADMIN = "policy-admin", "Policy admin"


ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    # A viewer acts on nothing; which models they read is decided per model.
    Role.VIEWER: (),
    Role.CONTRIBUTOR: (
        "registry.add_registeredmodel",
        "registry.register_version",
        "registry.archive_version",
        "registry.edit_card",
        "registry.request_promotion",
    ),
    Role.REVIEWER: ("registry.signoff_staging",),
    Role.APPROVER: ("registry.signoff_production", "registry.archive_version", "registry.archive_production"),
    Role.INCIDENT_RESPONDER: ("registry.respond_incident",),
    Role.POLICY_ADMIN: ("registry.admin_policy",),
}


def role_groups_sync() -> None:
    """Create the role groups and give each its permissions. Adds only: an admin may grant more."""
    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_name = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.filter(
            content_type__app_label__in={p.split(".")[0] for p in wanted}
        ).values_list("pk", "content_type__app_label", "codename")
    }
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        pks = [by_name[perm] for perm in perms if perm in by_name]
        if pks:
            group.permissions.add(*pks)


def role_groups_sync_after_migrate(sender, **kwargs) -> None:
    # post_migrate fires once per app; the registry's permissions exist only after its turn.
    if sender.label == "registry":
        role_groups_sync()


def roles_holding(permission: str) -> list[Role]:
    """The roles whose holders may use `permission` (`app_label.codename`), in the order roles are listed."""
    return [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]


def role_needed(permission: str, model_name: str) -> str:
    """Why an action is not offered, in the words a person can take to an admin: "Needs the approver role
    on fraud-scorer." Formats only: whether the person holds it is the caller's question."""
    labels = [role.label.lower() for role in roles_holding(permission)]
    if not labels:
        return f"Only a superuser may do this for {model_name}."
    return f"Needs the {' or '.join(labels)} role on {model_name}."
