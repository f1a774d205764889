"""Writes about registered models themselves: creating one, editing what it says, who may act on it.

Keyword-only, one transaction each, audited in that transaction. Versions and their stages are written in
`warehouse.registry.services`, which names these too.
"""

import re

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms, remove_perm

from warehouse.accounts.permissions import VIEW_MODEL, permission_denied
from warehouse.audit.services import audit_record
from warehouse.changes import heard_before_answering
from warehouse.errors import InvalidInput
from warehouse.registry.models import DESCRIPTION_MAX_LENGTH, RegisteredModel

MODEL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
RESERVED_MODEL_NAMES = frozenset({"new", "register", "search", "api", "static", "admin"})


class ModelNameTaken(InvalidInput):
    """Another model has this name, perhaps created a moment ago by a concurrent request."""


# --- Registered models --------------------------------------------------------------------------------


def model_name_problem(name: str) -> str:
    """Why `name` cannot name a model, or "" if it can (uniqueness is the database's to decide)."""
    if not name:
        return "A model name is required."
    if not MODEL_NAME.match(name):
        return "Use 1–64 lower-case letters, digits and hyphens, starting and ending with a letter or digit."
    if name in RESERVED_MODEL_NAMES:
        return f"{name!r} is reserved; choose another name."
    return ""


def description_problem(description) -> str:
    """Why `description` cannot describe a model, or ""."""
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX_LENGTH or "\x00" in description:
        return f"Must be text of at most {DESCRIPTION_MAX_LENGTH} characters."
    return ""


def model_create(
    *, actor, name: str, description: str = "", owner=None, team: Group | None = None
) -> RegisteredModel:
    """Create a model. Its owner, its creator and its team may see it; everyone else is denied by default."""
    if not (actor.is_superuser or actor.has_perm("registry.add_registeredmodel")):
        raise permission_denied(
            actor=actor,
            target=None,
            permission="registry.add_registeredmodel",
            attempted=f"create the model {name!r}",
        )
    problem = model_name_problem(name)
    if problem:
        raise InvalidInput({"name": [problem]})
    problem = description_problem(description)
    if problem:
        raise InvalidInput({"description": [problem]})
    owner = owner or actor
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                name=name, description=description, owner=owner, team=team, created_by=actor
            )
            for principal in {owner, actor} | ({team} if team else set()):
                assign_perm(VIEW_MODEL, principal, model)
            audit_record(
                actor=actor,
                action="model.created",
                target=model,
                model_name=model.name,
                data={"owner": owner.get_username(), "team": team.name if team else None},
            )
    except IntegrityError as error:
        if RegisteredModel.objects.filter(name=name).exists():
            raise ModelNameTaken({"name": [f"A model named {name!r} already exists."]}) from error
        raise
    return model


def model_update(
    *, actor, model: RegisteredModel, description: str, owner, team: Group | None
) -> RegisteredModel:
    """Change what a model says about itself. Its name is permanent: alerts and pipelines refer to it.

    Access follows the owner and the team: the new ones are granted view, and a team or owner that is
    replaced loses the view it was given for that role (other grants, made in the admin, stay).
    """
    if not actor.is_superuser:
        raise permission_denied(
            actor=actor, target=model, permission="superuser", attempted="edit this model"
        )
    with transaction.atomic():
        locked = (
            RegisteredModel.objects.select_for_update(of=("self",))
            .select_related("owner", "team")
            .get(pk=model.pk)
        )
        old_owner, old_team = locked.owner, locked.team
        before = {
            "description": locked.description,
            "owner": old_owner.get_username(),
            "team": old_team and old_team.name,
        }
        locked.description, locked.owner, locked.team = description, owner, team
        locked.save(update_fields=["description", "owner", "team"])
        if old_team is not None and old_team != team:
            remove_perm(VIEW_MODEL, old_team, locked)
        if old_owner != owner and old_owner != locked.created_by:
            remove_perm(VIEW_MODEL, old_owner, locked)
        if team is not None:
            assign_perm(VIEW_MODEL, team, locked)
        assign_perm(VIEW_MODEL, owner, locked)
        audit_record(
            actor=actor,
            action="model.updated",
            target=locked,
            model_name=locked.name,
            data={
                "before": before,
                "after": {
                    "description": description,
                    "owner": owner.get_username(),
                    "team": team and team.name,
                },
            },
        )
    return locked


# --- Who may do what on a model -------------------------------------------------------------------------


def model_permissions_set(*, actor, model: RegisteredModel, principal, codenames: set[str]) -> None:
    """Make `principal` (a user or a group) hold exactly `codenames` on `model`, audited.

    The admin's object-permission pages save through here, so a grant is on the record like any change.
    """
    if not actor.is_superuser:
        raise permission_denied(
            actor=actor, target=model, permission="superuser", attempted="change who may act on this model"
        )
    is_group = isinstance(principal, Group)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        held = set(get_group_perms(principal, model) if is_group else get_user_perms(principal, model))
        granted, revoked = sorted(codenames - held), sorted(held - codenames)
        for codename in revoked:
            remove_perm(codename, principal, model)
        for codename in granted:
            assign_perm(codename, principal, model)
        transaction.on_commit(heard_before_answering, robust=True)
        if granted or revoked:
            audit_record(
                actor=actor,
                action="model.permissions_changed",
                target=model,
                model_name=model.name,
                data={
                    "group" if is_group else "user": principal.name if is_group else principal.get_username(),
                    "granted": granted,
                    "revoked": revoked,
                },
            )
