"""`models_visible_to` answers what guardian's get_objects_for_user answers (the view permission granted to
the person or to one of their groups, global permissions aside), in a query that reads the grants by index
rather than matching each against every model."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, get_objects_for_user

from tests.factories import model_create_for_tests, user_with_roles
from warehouse.accounts.permissions import VIEW_MODEL, models_visible_to
from warehouse.accounts.roles import Role
from warehouse.registry.models import RegisteredModel


@pytest.fixture
def people(contributor, team, superuser):
    """Five models, and people who see them by every road there is (and some who see none)."""
    other_team = Group.objects.create(name="risk")
    for index in range(3):
        model_create_for_tests(actor=contributor, name=f"payments-{index}", team=team)
    owner = user_with_roles("owen", Role.CONTRIBUTOR, teams=(other_team,))
    model_create_for_tests(actor=owner, name="risk-0", team=other_team)
    model_create_for_tests(actor=owner, name="risk-1", team=None)
    one_grant = User.objects.create_user("greta")
    assign_perm(VIEW_MODEL, one_grant, RegisteredModel.objects.get(name="payments-1"))
    both = user_with_roles("bea", Role.VIEWER, teams=(other_team,))
    assign_perm(VIEW_MODEL, both, RegisteredModel.objects.get(name="risk-0"))  # also through the team
    assign_perm(VIEW_MODEL, both, RegisteredModel.objects.get(name="payments-2"))
    other_permission = User.objects.create_user("otto")
    assign_perm("registry.edit_card", other_permission, RegisteredModel.objects.get(name="payments-0"))
    inactive = user_with_roles("ines", Role.VIEWER, teams=(team,))
    inactive.is_active = False
    inactive.save()
    return [
        contributor,
        owner,
        one_grant,
        both,
        other_permission,
        inactive,
        superuser,
        User.objects.create_user("nemo"),
    ]


def names(queryset) -> list[str]:
    return sorted(queryset.values_list("name", flat=True))


def test_it_sees_what_guardian_sees(people):
    everything = RegisteredModel.objects.all()
    for person in people:
        ours = names(models_visible_to(person, everything))
        if not person.is_active:
            assert ours == [], person
            continue
        expected = (
            everything
            if person.is_superuser
            else get_objects_for_user(person, VIEW_MODEL, klass=everything, accept_global_perms=False)
        )
        assert ours == names(expected), person
    # The roads themselves, spelled out.
    by_name = {person.username: names(models_visible_to(person, everything)) for person in people}
    assert by_name["greta"] == ["payments-1"] and by_name["otto"] == [] and by_name["nemo"] == []
    assert by_name["bea"] == ["payments-2", "risk-0"] and by_name["owen"] == ["risk-0", "risk-1"]
    assert by_name["carol"] == ["payments-0", "payments-1", "payments-2"]


def test_it_keeps_to_the_queryset_it_is_given(people):
    carol = people[0]
    assert names(models_visible_to(carol, RegisteredModel.objects.filter(name__endswith="-1"))) == [
        "payments-1"
    ]
    assert names(models_visible_to(AnonymousUser(), RegisteredModel.objects.all())) == []


def test_it_is_one_query_whatever_the_number_of_grants(people):
    carol = people[0]
    with CaptureQueriesContext(connection) as queries:
        list(models_visible_to(carol, RegisteredModel.objects.all()))
    assert len(queries) == 1
