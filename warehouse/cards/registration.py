"""Registering a version together with its first card: the one registration every door uses (the API,
the registration page, the demo). Here, not in registry, because the card belongs to cards, which sits
above registry; the version itself is still written by registry's `version_register`."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.accounts.roles import Role
from warehouse.cards.services import card_revision_write, card_sections_parse, sections_render
from warehouse.errors import InvalidInput
from warehouse.registry.evidence import Evidence, evidence_parse
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.services import (
    ModelNameTaken,
    description_problem,
    model_create,
    model_name_problem,
    version_register,
)


def registration_open_to(user) -> bool:
    """Whether `user` may register a version of some model, or create one: the registration page offers its
    form only then, instead of a refusal after the whole form is filled in."""
    if not user.is_active:
        return False
    if any(user.has_perm(perm) for perm in ("registry.add_registeredmodel", "registry.register_version")):
        return True
    granted = get_objects_for_user(
        user, "registry.register_version", klass=RegisteredModel, accept_global_perms=False
    )
    return granted.exists()


@dataclass(frozen=True)
class NewModel:
    """A model to create with its first version."""

    name: str
    description: str = ""
    team: Group | None = None


def version_register_with_card(
    *, actor, model: RegisteredModel | NewModel, evidence: Evidence, card_sections: dict[str, str]
) -> ModelVersion:
    """Register a version with its evidence and, when given, its first card: one transaction, all or nothing.

    `model` may be a NewModel, created in the same transaction (that needs the permission to create models).
    Permissions are checked before the transaction opens, so a refusal's audit event is not rolled back
    with it. Registering includes writing the first card, so the register permission covers that.
    """
    if isinstance(model, NewModel):
        for perm, attempted in (
            ("registry.add_registeredmodel", f"create the model {model.name!r}"),
            ("registry.register_version", f"register versions of {model.name!r}"),
        ):
            if not (actor.is_superuser or actor.has_perm(perm)):
                raise permission_denied(actor=actor, target=None, permission=perm, attempted=attempted)
        if (
            model.team is not None
            and not actor.is_superuser
            and not actor.groups.filter(pk=model.team.pk).exists()
        ):
            raise InvalidInput(
                {
                    "model.team": [
                        f"You can only create a model for a team you belong to, not {model.team.name!r}."
                    ]
                }
            )
    else:
        model_access(actor, model).require(
            "registry.register_version", attempted=f"register versions of {model.name}"
        )
    sections_html = sections_render(card_sections)
    with transaction.atomic():
        if isinstance(model, NewModel):
            model = model_create(actor=actor, name=model.name, description=model.description, team=model.team)
        version = version_register(actor=actor, model=model, evidence=evidence)
        if card_sections:
            card_revision_write(
                actor=actor,
                version=version,
                sections=card_sections,
                sections_html=sections_html,
                summary="First card, at registration",
                first=True,
            )
    return version


# --- Reading a registration, for every door (API, page) -------------------------------------------------

REGISTRATION_FIELDS = frozenset({"card", "model"})


@dataclass(frozen=True)
class Registration:
    evidence: Evidence
    card_sections: dict[str, str]
    model_description: str
    model_team: Group | None


def registration_parse(payload: Any) -> Registration:
    """Read a whole registration body; raise InvalidInput listing every bad field at once."""
    errors: dict[str, list[str]] = {}
    evidence = card_sections = None
    try:
        evidence = evidence_parse(payload, other_fields=REGISTRATION_FIELDS)
    except InvalidInput as error:
        errors.update(error.errors)
    if not isinstance(payload, Mapping):
        raise InvalidInput(errors)
    try:
        card_sections = card_sections_parse(payload.get("card"))
    except InvalidInput as error:
        errors.update(error.errors)
    description, team = "", None
    model_info = payload.get("model")
    if model_info is not None:
        if not isinstance(model_info, Mapping):
            errors["model"] = ["Must be an object with 'description' and 'team'."]
        else:
            for key in sorted(set(model_info) - {"description", "team"}):
                errors[f"model.{key}"] = ["Unknown field; expected one of: description, team."]
            description = model_info.get("description") or ""
            problem = description_problem(description)
            if problem:
                errors["model.description"] = [problem]
                description = ""
            team_name = model_info.get("team")
            if team_name:
                # A role group is not a team: granting it view would show the model to everyone in that role.
                team = (
                    Group.objects.exclude(name__in=Role.values).filter(name=team_name).first()
                    if isinstance(team_name, str)
                    else None
                )
                if team is None:
                    errors["model.team"] = [f"No team named {team_name!r}."]
    if errors:
        raise InvalidInput(errors)
    return Registration(
        evidence=evidence, card_sections=card_sections, model_description=description, model_team=team
    )


def version_register_named(*, actor, model_name: str, registration: Registration) -> ModelVersion:
    """Register into the model called `model_name`, creating it when it does not exist yet.

    Someone who may not see a model, or may not create one, is told only "no such model": the answer does
    not reveal which models exist. The attempt is on the record either way. Two pipelines creating the
    same new model at once both succeed: the one that loses the race registers into the winner's model.
    """
    model = RegisteredModel.objects.filter(name=model_name).first()
    if model is None:
        problem = model_name_problem(model_name)
        if problem:
            raise InvalidInput({"model": [problem]})
        if not (actor.is_superuser or actor.has_perm("registry.add_registeredmodel")):
            permission_denied(
                actor=actor,
                target=None,
                permission="registry.add_registeredmodel",
                attempted=f"create the model {model_name!r} by registering into it",
            )
            raise Http404("No such model, or you may not see it.")
        new_model = NewModel(
            name=model_name, description=registration.model_description, team=registration.model_team
        )
        try:
            return version_register_with_card(
                actor=actor,
                model=new_model,
                evidence=registration.evidence,
                card_sections=registration.card_sections,
            )
        except ModelNameTaken:
            model = RegisteredModel.objects.get(name=model_name)
    if not model_access(actor, model).can_view:
        permission_denied(
            actor=actor,
            target=model,
            permission="registry.view_registeredmodel",
            attempted=f"register versions of {model_name} (a model they may not see)",
        )
        raise Http404("No such model, or you may not see it.")
    return version_register_with_card(
        actor=actor, model=model, evidence=registration.evidence, card_sections=registration.card_sections
    )
