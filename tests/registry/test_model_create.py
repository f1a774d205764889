"""`model_create`: a contributor names a model; its owner, creator and team may see it, nobody else."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from tests.factories import user_with_roles
from warehouse.accounts.permissions import model_access, models_visible_to
from warehouse.audit.models import AuditEvent
from warehouse.errors import InvalidInput
from warehouse.registry.models import RegisteredModel
from warehouse.registry.services import RESERVED_MODEL_NAMES, model_create, model_name_problem, model_update


def test_it_creates_a_model_on_the_record(contributor, team):
    model = model_create(actor=contributor, name="churn-predictor", description="Churn.", team=team)

    assert (model.name, model.owner, model.created_by, model.team) == (
        "churn-predictor",
        contributor,
        contributor,
        team,
    )
    event = AuditEvent.objects.get(action="model.created")
    assert (event.actor_id, event.model_name, event.data) == (
        contributor.pk,
        "churn-predictor",
        {"owner": "carol", "team": "payments"},
    )


def test_it_lets_the_owner_the_creator_and_the_team_see_it(contributor, approver, viewer, outsider, team):
    model = model_create(actor=contributor, name="churn-predictor", owner=approver, team=team)

    for person in (contributor, approver, viewer):
        assert model_access(person, model).can_view
        assert list(models_visible_to(person, RegisteredModel.objects.all())) == [model]
    assert not model_access(outsider, model).can_view
    assert not models_visible_to(outsider, RegisteredModel.objects.all()).exists()


def test_it_lets_only_the_owner_and_creator_see_a_model_without_a_team(contributor, viewer):
    model = model_create(actor=contributor, name="churn-predictor")

    assert model_access(contributor, model).can_view
    assert not model_access(viewer, model).can_view


def test_it_refuses_someone_who_may_not_create_models_on_the_record(viewer):
    with pytest.raises(PermissionDenied):
        model_create(actor=viewer, name="churn-predictor")

    assert not RegisteredModel.objects.exists()
    denied = AuditEvent.objects.get(action="permission.denied")
    assert denied.data["permission"] == "registry.add_registeredmodel"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Churn",
        "churn predictor",
        "-churn",
        "churn-",
        "churn_predictor",
        "a" * 65,
        "churn/predictor",
        "churn\x00",
        "ß",
        *sorted(RESERVED_MODEL_NAMES),
    ],
)
def test_it_refuses_a_name_that_cannot_be_a_model_name(contributor, name):
    with pytest.raises(InvalidInput) as refused:
        model_create(actor=contributor, name=name)

    assert refused.value.errors["name"] == [model_name_problem(name)]
    assert not RegisteredModel.objects.exists()
    assert not AuditEvent.objects.filter(action="model.created").exists()


@pytest.mark.parametrize("name", ["a", "a1", "fraud-scorer", "x" * 64, "2026-q4"])
def test_it_accepts_a_plain_name(contributor, name):
    assert model_create(actor=contributor, name=name).name == name


def test_it_refuses_a_name_that_is_taken(contributor, model):
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as refused:
        model_create(actor=contributor, name="fraud-scorer")

    assert refused.value.errors == {"name": ["A model named 'fraud-scorer' already exists."]}
    assert RegisteredModel.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_it_refuses_a_description_that_is_too_long(contributor):
    with pytest.raises(InvalidInput) as refused:
        model_create(actor=contributor, name="churn-predictor", description="x" * 5001)

    assert list(refused.value.errors) == ["description"]


def test_moving_a_model_to_another_team_moves_who_sees_it(model, superuser, viewer, team):
    search = Group.objects.create(name="search")
    searcher = user_with_roles("sam", teams=(search,))

    model_update(actor=superuser, model=model, description=model.description, owner=model.owner, team=search)

    assert not model_access(viewer, model).can_view  # the old team's grant is gone
    assert model_access(searcher, model).can_view
    event = AuditEvent.objects.get(action="model.updated")
    assert (event.data["before"]["team"], event.data["after"]["team"]) == ("payments", "search")
