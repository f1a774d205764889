"""The main navigation offers what the signed-in person may use, by the rules of the pages behind it, read
with the person at no query of its own, and never older than the request."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from guardian.shortcuts import assign_perm, remove_perm

from warehouse.accounts.reach import NOWHERE, Reach, reach_of
from warehouse.accounts.roles import Role

REGISTER = reverse("cards:register")
WEBHOOKS = reverse("webhooks:subscriptions")
TOKENS = reverse("accounts:api-tokens")
ADMIN = reverse("admin:index")
ENTRIES = {"register": REGISTER, "webhooks": WEBHOOKS, "api_tokens": TOKENS, "admin": ADMIN}


def nav_of(client, user) -> set[str]:
    client.force_login(user)
    return nav(client)


def nav(client) -> set[str]:
    """The entries of the main navigation on the next page, in the session the client holds."""
    html = client.get(reverse("home")).content.decode()
    nav = html[html.index('<nav class="mainnav"') : html.index("</nav>")]
    return {entry for entry, url in ENTRIES.items() if f'href="{url}"' in nav}


@pytest.mark.parametrize(
    ("person", "shown"),
    [
        ("viewer", {"api_tokens"}),  # the product lead and the auditor
        ("contributor", {"register", "api_tokens"}),
        ("reviewer", {"api_tokens"}),
        ("approver", {"api_tokens"}),
        ("responder", {"api_tokens"}),
        ("policy_admin", {"webhooks", "api_tokens"}),
        ("superuser", {"register", "webhooks", "api_tokens", "admin"}),
        # Every role but no team: may create a model, sees none whose webhooks it could manage.
        ("outsider", {"register", "api_tokens"}),
    ],
)
def test_each_role_sees_the_entries_it_can_use(client, request, model, person, shown):
    assert nav_of(client, request.getfixturevalue(person)) == shown


def test_everyone_sees_the_entries_everyone_may_use(client, viewer):
    client.force_login(viewer)
    html = client.get(reverse("home")).content.decode()
    for entry in ("Home", "Models", "Incidents", "Reviews", "Audit trail"):
        assert f">{entry}</a>" in html


@pytest.mark.parametrize(
    "person", ["viewer", "contributor", "reviewer", "policy_admin", "superuser", "outsider"]
)
def test_the_nav_and_the_pages_never_disagree(client, request, model, person):
    user = request.getfixturevalue(person)
    shown = nav_of(client, user)

    assert client.get(REGISTER).status_code == (200 if "register" in shown else 403)
    assert client.get(WEBHOOKS).context["can_create"] == ("webhooks" in shown)
    assert client.get(TOKENS).status_code == 200


def test_a_role_given_shows_on_the_next_page_and_taken_away_goes(client, model, viewer):
    contributors = Group.objects.get(name=Role.CONTRIBUTOR.value)
    assert "register" not in nav_of(client, viewer)

    viewer.groups.add(contributors)
    assert "register" in nav(client)

    viewer.groups.remove(contributors)
    assert "register" not in nav(client)


def test_a_grant_on_one_model_shows_and_its_revocation_hides(client, model, viewer):
    assert nav_of(client, viewer) == {"api_tokens"}

    assign_perm("registry.register_version", viewer, model)
    assign_perm("registry.admin_policy", viewer, model)
    assert nav(client) == {"register", "webhooks", "api_tokens"}
    assert client.get(REGISTER).status_code == 200

    remove_perm("registry.register_version", viewer, model)
    remove_perm("registry.admin_policy", viewer, model)
    assert nav(client) == {"api_tokens"}
    assert client.get(REGISTER).status_code == 403


def test_a_grant_to_a_group_counts_for_its_members(client, model, viewer, team):
    assign_perm("registry.register_version", team, model)
    assert "register" in nav_of(client, viewer)


def test_managing_webhooks_needs_a_model_one_sees(client, model, viewer, team):
    """The policy permission on a model one cannot see manages nothing, as the webhook page says."""
    viewer.groups.remove(team)
    assign_perm("registry.admin_policy", viewer, model)
    assert "webhooks" not in nav_of(client, viewer)

    assign_perm("registry.view_registeredmodel", viewer, model)
    assert "webhooks" in nav(client)


def test_a_person_made_superuser_sees_everything_on_the_next_page(client, viewer):
    assert nav_of(client, viewer) == {"api_tokens"}
    viewer.is_superuser = viewer.is_staff = True
    viewer.save(update_fields=["is_superuser", "is_staff"])
    assert nav(client) == {"register", "webhooks", "api_tokens", "admin"}


def test_the_nav_costs_no_query_of_its_own(client, contributor, django_assert_num_queries):
    """Session and person, then the page's own: the API tokens page with no token runs three queries, as
    it did before the navigation asked anything (tests/accounts/test_pages.py pins it with rows)."""
    client.force_login(contributor)
    with django_assert_num_queries(3):
        html = client.get(TOKENS).content.decode()
    assert f'href="{REGISTER}"' in html


def test_asked_of_a_person_loaded_elsewhere_it_reads_once(contributor, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert reach_of(contributor) == Reach(register=True, webhooks=False, api_tokens=True, admin=False)


def test_nobody_signed_in_or_deactivated_reaches_nothing(contributor, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    contributor.is_active = False
    with django_assert_num_queries(0):
        assert reach_of(AnonymousUser()) == NOWHERE
        assert reach_of(contributor) == NOWHERE


@pytest.mark.postgres
def test_what_a_person_may_reach_is_read_through_the_grants_index(reviewer, model):
    """Asked on every page: it must look grants up by permission and person, never read every grant in the
    registry (that cost tens of milliseconds a page at 10,000 models)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from warehouse.accounts.reach import reach_annotations

    query = get_user_model().objects.filter(pk=reviewer.pk).annotate(**reach_annotations())
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on guardian_userobjectpermission" not in plan, plan
    assert "Seq Scan on guardian_groupobjectpermission" not in plan, plan
