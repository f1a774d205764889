"""The models list's filter menus (`model_filter_choices`): the teams and owners of exactly the models the
reader sees, as guardian's get_objects_for_user reads them, whichever way each team or person is answered
(their first models walked, or all of them against the reader's grants), in two queries whatever the
number of models, people and teams, and on PostgreSQL from the indexes."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, get_objects_for_user

from tests.factories import model_create_for_tests, user_with_roles
from warehouse.accounts.permissions import VIEW_MODEL
from warehouse.accounts.roles import Role
from warehouse.accounts.visibility import FIRST_WALKED
from warehouse.registry.menus import model_filter_choices
from warehouse.registry.models import RegisteredModel


def _bare_model(name: str, *, owner: User, team: Group | None) -> RegisteredModel:
    # Only the model row: the menus read no versions.
    return RegisteredModel.objects.create(name=name, owner=owner, team=team, created_by=owner)


@pytest.fixture
def people(contributor, team, superuser):
    """Models of three teams and no team, owned by three people, and readers who see them by every road:
    among them one who sees only the last of a team's many models, past those walked one by one."""
    risk = Group.objects.create(name="risk")
    bulk = Group.objects.create(name="bulk")
    model_create_for_tests(actor=contributor, name="payments-0", team=team)
    owen = user_with_roles("owen", Role.CONTRIBUTOR, teams=(risk,))
    model_create_for_tests(actor=owen, name="risk-0", team=risk)
    model_create_for_tests(actor=owen, name="solo-0", team=None)
    pipeline = User.objects.create_user("pipeline")
    bulk_models = [
        _bare_model(f"bulk-{index:02d}", owner=pipeline, team=bulk) for index in range(FIRST_WALKED + 3)
    ]
    late = User.objects.create_user("late")
    assign_perm(VIEW_MODEL, late, bulk_models[-1])
    greta = User.objects.create_user("greta")
    assign_perm(VIEW_MODEL, greta, RegisteredModel.objects.get(name="payments-0"))
    both = user_with_roles("bea", Role.VIEWER, teams=(risk,))
    assign_perm(VIEW_MODEL, both, RegisteredModel.objects.get(name="solo-0"))
    inactive = user_with_roles("ines", Role.VIEWER, teams=(team,))
    inactive.is_active = False
    inactive.save()
    return [
        contributor,
        owen,
        pipeline,
        late,
        greta,
        both,
        inactive,
        superuser,
        User.objects.create_user("nemo"),
    ]


def _expected(person) -> dict[str, list[str]]:
    if not person.is_active:
        return {"teams": [], "owners": []}
    everything = RegisteredModel.objects.select_related("team", "owner")
    seen = (
        everything
        if person.is_superuser
        else get_objects_for_user(person, VIEW_MODEL, klass=everything, accept_global_perms=False)
    )
    return {
        "teams": sorted({model.team.name for model in seen if model.team is not None}),
        "owners": sorted({model.owner.username for model in seen}),
    }


@pytest.mark.django_db
def test_the_menus_hold_the_teams_and_owners_of_what_guardian_shows(people):
    for person in people:
        assert model_filter_choices(user=person) == _expected(person), person.username
    by_name = {person.username: model_filter_choices(user=person) for person in people}
    # Past the models walked one by one, the one the reader sees is still found.
    assert by_name["late"] == {"teams": ["bulk"], "owners": ["pipeline"]}
    assert by_name["greta"] == {"teams": ["payments"], "owners": ["carol"]}
    assert by_name["bea"] == {"teams": ["risk"], "owners": ["owen"]}
    assert by_name["nemo"] == {"teams": [], "owners": []}
    # Roles are groups that own nothing: never offered, even to a superuser.
    assert not set(by_name["root"]["teams"]) & set(Role.values)


@pytest.mark.django_db
def test_no_one_signed_in_is_offered_nothing(people):
    assert model_filter_choices(user=AnonymousUser()) == {"teams": [], "owners": []}


@pytest.mark.django_db
def test_the_menus_are_two_queries_whatever_the_number_of_models(people, contributor):
    model_filter_choices(user=contributor)  # the permission's and content type's ids, read once a process
    with CaptureQueriesContext(connection) as queries:
        model_filter_choices(user=people[3])
    assert len(queries) == 3  # the reader, then one query a menu


@pytest.mark.postgres
@pytest.mark.django_db
def test_each_team_and_person_is_asked_from_the_indexes(people):
    with CaptureQueriesContext(connection) as queries:
        model_filter_choices(user=people[3])
    menus = [query["sql"] for query in queries.captured_queries if "WITH RECURSIVE" in query["sql"]]
    assert len(menus) == 2
    with connection.cursor() as cursor:
        # Tiny test tables make a sequential scan the cheapest plan: off, the plan shows what can be used.
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in menus:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on registry_registeredmodel" not in plan, plan
            assert "registry_model_owner_key" in plan or "registry_model_team_key" in plan, plan
