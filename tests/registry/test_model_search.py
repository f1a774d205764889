"""Model search finds a model by part of its name, its description, its team's name or its owner's
username, in any case, and only among the models the searcher can see."""

import pytest
from django.contrib.auth.models import Group

from tests.factories import model_create_for_tests, user_with_roles
from warehouse.accounts.roles import Role
from warehouse.registry.listing import model_list_page
from warehouse.registry.models import RegisteredModel
from warehouse.registry.selectors import ModelFilters


@pytest.fixture
def registry(contributor, team):
    """fraud-scorer (payments, carol), churn-model (retention, dana), both visible to `reader`."""
    retention = Group.objects.create(name="retention-squad")
    dana = user_with_roles("dana", Role.CONTRIBUTOR, teams=(retention,))
    model_create_for_tests(actor=contributor, name="fraud-scorer", team=team)
    model_create_for_tests(actor=dana, name="churn-model", team=retention)
    RegisteredModel.objects.filter(name="churn-model").update(description="Who leaves: 100% of accounts_x")
    return user_with_roles("reader", Role.VIEWER, teams=(team, retention))


def found(user, term: str) -> list[str]:
    return [model.name for model in model_list_page(user=user, filters=ModelFilters(search=term)).rows]


@pytest.mark.parametrize(
    ("term", "names"),
    [
        ("SCORER", ["fraud-scorer"]),  # part of the name, any case
        ("leaves", ["churn-model"]),  # part of the description
        ("Payments", ["fraud-scorer"]),  # the team's name
        ("squad", ["churn-model"]),  # part of the team's name
        ("dan", ["churn-model"]),  # part of the owner's username
        ("CAROL", ["fraud-scorer"]),
        ("-", ["churn-model", "fraud-scorer"]),
        ("100%", ["churn-model"]),  # % and _ are themselves, not patterns
        ("s_x", ["churn-model"]),
        ("%", ["churn-model"]),
        ("d_s", []),  # as a pattern, it would match fraud-scorer's "d-s"
        ("nothing-like-it", []),
    ],
)
def test_it_finds_models_by_name_description_team_and_owner(registry, term, names):
    assert found(registry, term) == names


def test_it_finds_only_models_the_searcher_can_see(registry, contributor, outsider):
    # carol is in payments only: dana's team and dana herself match, but dana's model is not hers to see.
    assert found(contributor, "retention") == []
    assert found(contributor, "dana") == []
    assert found(outsider, "fraud") == found(outsider, "payments") == []


def test_it_combines_with_the_other_filters(registry):
    filters = ModelFilters(search="o", team="payments")
    assert [model.name for model in model_list_page(user=registry, filters=filters).rows] == ["fraud-scorer"]
