"""`models_visible_to` answers what guardian's get_objects_for_user answers (the view permission granted to
the person or to one of their groups, global permissions aside), in a query that reads the grants by index
rather than matching each against every model; and so does the walk, which checks each model on its own
(accounts/visibility.py), and which a reader of much of a large registry gets for a read that stops early."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import connection
from django.db.models import OuterRef
from django.test.utils import CaptureQueriesContext
from guardian.models import GroupObjectPermission
from guardian.shortcuts import assign_perm, get_objects_for_user

from tests.factories import model_create_for_tests, user_with_roles
from warehouse.accounts import visibility
from warehouse.accounts.permissions import VIEW_MODEL, model_visible_check, models_visible_to
from warehouse.accounts.roles import Role
from warehouse.accounts.visibility import Reader, models_visible_for_read, reader_for
from warehouse.registry.models import ModelVersion, RegisteredModel


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


def walked(person, queryset, *, model_key="pk"):
    """The walk, whatever the reader's grants: as for a reader of most of a large registry."""
    reader = reader_for(person)
    return models_visible_for_read(
        Reader(person, reader.groups, sees=10**9), queryset, rows=1, model_key=model_key
    )


BOTH_FORMS = pytest.mark.parametrize("visible_to", [models_visible_to, walked])


@BOTH_FORMS
def test_it_sees_what_guardian_sees(people, visible_to):
    everything = RegisteredModel.objects.all()
    for person in people:
        ours = names(visible_to(person, everything))
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
    by_name = {person.username: names(visible_to(person, everything)) for person in people}
    assert by_name["greta"] == ["payments-1"] and by_name["otto"] == [] and by_name["nemo"] == []
    assert by_name["bea"] == ["payments-2", "risk-0"] and by_name["owen"] == ["risk-0", "risk-1"]
    assert by_name["carol"] == ["payments-0", "payments-1", "payments-2"]


@BOTH_FORMS
def test_it_keeps_to_the_queryset_it_is_given(people, visible_to):
    carol = people[0]
    assert names(visible_to(carol, RegisteredModel.objects.filter(name__endswith="-1"))) == ["payments-1"]
    assert names(visible_to(AnonymousUser(), RegisteredModel.objects.all())) == []


def test_it_is_one_query_whatever_the_number_of_grants(people):
    carol = people[0]
    with CaptureQueriesContext(connection) as queries:
        list(models_visible_to(carol, RegisteredModel.objects.all()))
    assert len(queries) == 1


def test_the_walk_checks_rows_of_other_tables_by_their_model(people):
    bea = people[3]
    versions = ModelVersion.objects.order_by("model__name")
    shown = walked(bea, versions, model_key="model_id").values_list("model__name", flat=True)
    assert sorted(set(shown)) == ["payments-2", "risk-0"]
    assert list(models_visible_for_read(reader_for(bea), versions, rows=1, model_key="model_id")) == list(
        walked(bea, versions, model_key="model_id")
    )


def test_a_reader_is_their_teams_the_registrys_size_and_what_they_see_in_one_query(people):
    bea = people[3]
    with CaptureQueriesContext(connection) as queries:
        reader = reader_for(bea)
    assert len(queries) == 1
    assert reader.models == 5
    # Their team holds view grants; their role (viewers) holds none, and costs no probe.
    assert reader.groups == [Group.objects.get(name="risk").pk]
    # The five models are all among the newest sampled: what they see, exactly (payments-2 and risk-0).
    assert reader.sees == 2


def test_a_reader_of_most_of_a_large_registry_walks_a_short_read(people):
    carol = people[0]

    def reader(sees: int, user=carol) -> Reader:
        return Reader(user, [], sees=sees, models=10_000)

    # sqrt(rows x models x probe cost): 2,020 models seen for a page of 51, 8,950 for a count of 1,001.
    assert reader(9_000).walks(51) and reader(9_000).walks(1_001)
    assert reader(3_000).walks(51) and not reader(3_000).walks(1_001)
    assert not reader(2).walks(1)
    assert not reader(10**9, user=people[6]).walks(1)  # a superuser needs no check at all


def test_a_reader_is_read_once_per_person_object(people):
    bea = people[3]
    reader_for(bea)
    with CaptureQueriesContext(connection) as queries:
        assert reader_for(bea).sees == 2
    assert len(queries) == 0
    assert visibility.walk_from(rows=1, models=5) == 7  # sqrt(1 x 5 x 8), rounded up


def test_the_walk_sees_a_team_joined_by_the_next_request(people):
    nemo = people[-1]
    assert names(walked(nemo, RegisteredModel.objects.all())) == []
    nemo.groups.add(Group.objects.get(name="risk"))
    next_request = User.objects.get(pk=nemo.pk)  # each request loads the person anew
    assert names(walked(next_request, RegisteredModel.objects.all())) == ["risk-0"]


def test_what_a_reader_sees_is_counted_on_the_newest_models(monkeypatch, people):
    by_name = {person.username: reader_for(person).sees for person in people if person.is_active}
    assert by_name == {"carol": 3, "owen": 2, "greta": 1, "bea": 2, "otto": 0, "root": 0, "nemo": 0}
    # Sampling the newest two (risk-1, then risk-0): owen sees both, carol neither; each scaled to five.
    monkeypatch.setattr(visibility, "SAMPLED", 2)
    assert reader_for(User.objects.get(username="owen")).sees == 5
    assert reader_for(User.objects.get(username="carol")).sees == 0


@pytest.mark.postgres
def test_the_walk_finds_a_models_grants_for_all_the_readers_teams_in_one_probe(contributor, team):
    # Led by the model's key (accounts 0003), the reader's teams' grants on one model are side by side:
    # one descent a row, where guardian's indexes, led by the permission and the team, need one per team.
    model = model_create_for_tests(actor=contributor, name="fraud-scorer", team=team)
    other = Group.objects.create(name="risk")
    # Grants of both teams on many other models, with statistics, so that the plan is the one of a registry.
    grant = GroupObjectPermission.objects.get(group=team, object_pk=str(model.pk))
    GroupObjectPermission.objects.bulk_create(
        GroupObjectPermission(
            group=group,
            permission_id=grant.permission_id,
            content_type_id=grant.content_type_id,
            object_pk=key,
        )
        for key in range(model.pk + 1, model.pk + 2_000)
        for group in (team, other)
    )
    checked = RegisteredModel.objects.filter(
        model_visible_check(contributor, model=OuterRef("pk"), groups=[team.pk, other.pk])
    )
    assert list(checked) == [model]

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE guardian_groupobjectpermission")
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables make scans the cheapest plan
        cursor.execute(f"EXPLAIN {checked.query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # (Index only in production; a bitmap here, as a test's fresh table has no visibility map yet.)
    assert "using accounts_group_grant_by_object" in plan or "on accounts_group_grant_by_object" in plan, plan
