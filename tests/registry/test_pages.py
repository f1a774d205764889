"""The registry's pages (the models list, the audit trail): who may open them, what they show, and how
many queries they cost. The home, model and version pages are the pages layer's: tests/pages.

Each page climbs the ladder: anonymous → sign-in, outsider → 404 (the model does not exist for them),
viewer and every role → 200. Query counts are pinned at 1 row and at 50 rows with the same bound.
"""

import pytest
from django.urls import reverse

from tests.factories import model_create_for_tests, version_move, version_register_for_tests
from warehouse.accounts.services import api_token_create
from warehouse.audit.models import AuditEvent
from warehouse.audit.services import audit_record
from warehouse.registry.models import Stage
from warehouse.registry.selectors import model_page
from warehouse.registry.views import MODELS_PER_PAGE

ROLES = ["viewer", "contributor", "reviewer", "approver", "responder", "policy_admin"]


def assert_queries_do_not_grow(django_assert_max_num_queries, client, *, bound: int, build) -> list[int]:
    """`build(n)` makes (or grows) the data to n rows and returns the URL of the page showing them.

    The page must stay within `bound` queries with 1 row and with 50, and run exactly as many with both.
    """
    counts = []
    for rows in (1, 50):
        url = build(rows)
        assert client.get(url).status_code == 200  # warm the per-process caches (content types)
        with django_assert_max_num_queries(bound) as captured:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], f"queries grow with rows: {counts[0]} at 1 row, {counts[1]} at 50"
    return counts


def page_urls(model, version) -> dict[str, str]:
    return {
        "home": reverse("home"),
        "models": reverse("registry:models"),
        "model": reverse("registry:model", args=[model.name]),
        "version": reverse("registry:version", args=[model.name, version.number]),
        "audit": reverse("audit-trail"),
    }


# --- Who may open what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["models", "audit"])
def test_it_sends_anonymous_visitors_to_sign_in(client, model, version, page):
    url = page_urls(model, version)[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:sign-in')}?next={url}"


def test_it_leaves_the_model_out_of_lists_for_outsiders(client, model, version, contributor, outsider):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    client.force_login(outsider)
    for page in ("home", "models", "audit"):
        response = client.get(page_urls(model, version)[page])
        assert response.status_code == 200
        assert model.name not in response.content.decode(), page
    assert client.get(reverse("registry:models"), {"search": model.name}).context["listing"].count == 0


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["models", "audit"])
def test_it_shows_every_page_to_each_role_in_the_team(client, request, model, version, role, page):
    client.force_login(request.getfixturevalue(role))
    response = client.get(page_urls(model, version)[page])
    assert response.status_code == 200
    assert model.name in response.content.decode()


# --- What the pages show -------------------------------------------------------------------------------


@pytest.fixture
def promoted(model, version, contributor):
    """fraud-scorer: v1 archived (the rollback target), v2 in production, v3 in staging, v4 a draft."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    v2 = version_register_for_tests(actor=contributor, model=model)
    version_move(v2, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    v3 = version_register_for_tests(actor=contributor, model=model)
    version_move(v3, Stage.STAGING, actor=contributor)
    v4 = version_register_for_tests(actor=contributor, model=model)
    return {"v1": version, "v2": v2, "v3": v3, "v4": v4}


@pytest.mark.parametrize("page", ["models", "audit"])
def test_pages_keep_to_the_content_security_policy(client, model, promoted, viewer, page):
    client.force_login(viewer)
    response = client.get(page_urls(model, promoted["v3"])[page])
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert " style=" not in html and "<style" not in html and "<script" not in html
    assert "//cdn" not in html and "fonts.googleapis" not in html


def test_the_models_list_filters_and_counts_by_stage(client, model, promoted, contributor, team, viewer):
    model_create_for_tests(actor=contributor, name="churn-predictor", team=team)
    client.force_login(viewer)
    rows = client.get(reverse("registry:models")).context["listing"].rows
    assert [m.name for m in rows] == ["churn-predictor", "fraud-scorer"]
    fraud = rows[1]
    counts = (fraud.production_number, fraud.staging_count, fraud.draft_count, fraud.archived_count)
    assert counts == (2, 1, 1, 1)
    staged = client.get(reverse("registry:models"), {"stage": "staging"}).context["listing"].rows
    assert [m.name for m in staged] == ["fraud-scorer"]
    searched = client.get(reverse("registry:models"), {"search": "churn"}).context["listing"].rows
    assert [m.name for m in searched] == ["churn-predictor"]
    by_team = client.get(reverse("registry:models"), {"team": "nobody"}).context["listing"].rows
    assert list(by_team) == []
    by_owner = client.get(reverse("registry:models"), {"owner": contributor.username}).context["listing"]
    assert by_owner.count == 2


def test_the_audit_trail_filters(client, model, promoted, viewer):
    client.force_login(viewer)
    response = client.get(reverse("audit-trail"), {"action": "version.stage_changed", "model": model.name})
    events = list(response.context["page"].object_list)
    assert events and all(e.action == "version.stage_changed" for e in events)
    assert [e.sequence for e in events] == sorted((e.sequence for e in events), reverse=True)
    bad = client.get(reverse("audit-trail"), {"since": "2030-01-01T00:00", "until": "2020-01-01T00:00"})
    assert bad.status_code == 200 and "Must be after" in bad.content.decode()


def test_the_audit_trail_shows_a_reader_their_own_account_events_and_no_one_elses(
    client, viewer, contributor
):
    api_token_create(actor=viewer, user=viewer, name="laptop")
    api_token_create(actor=contributor, user=contributor, name="payments CI")
    client.force_login(viewer)

    events = list(client.get(reverse("audit-trail")).context["page"].object_list)

    assert [(e.action, e.actor_label) for e in events] == [("api_token.created", viewer.username)]


# --- Query counts that do not grow with rows -----------------------------------------------------------

# Pinned at what each page runs today (two of them are the session and the user), so a page that starts
# growing with its rows, or gains a query, fails here rather than in production.
# The reader is one query: their teams, the registry's size, their grants (accounts.visibility).
MODELS_LIST_QUERIES = 8  # + the reader, count, page, the page's versions counted, teams, owners
AUDIT_TRAIL_QUERIES = 7  # + 2 for the trail-wide permission, the reader, the visible model names, the page


def test_the_models_list_queries_do_not_grow(
    client, django_assert_max_num_queries, contributor, team, viewer
):
    client.force_login(viewer)
    made = []

    def build(rows):
        # A page more than asked: a list that fits on its first page is its own count, one query fewer.
        while len(made) < rows + MODELS_PER_PAGE:
            made.append(model_create_for_tests(actor=contributor, team=team))
        return reverse("registry:models")

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=MODELS_LIST_QUERIES, build=build)


def test_the_audit_trail_queries_do_not_grow(
    client, django_assert_max_num_queries, model, contributor, viewer
):
    client.force_login(viewer)

    def build(rows):
        while AuditEvent.objects.filter(action="test.noted").count() < rows:
            audit_record(
                actor=contributor,
                action="test.noted",
                target=model,
                model_name=model.name,
                data={"note": "a row of the trail"},
            )
        return reverse("audit-trail") + "?action=test."

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=AUDIT_TRAIL_QUERIES, build=build)


def test_a_long_archived_column_still_shows_the_rollback_target(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    for _ in range(4):
        drafted = version_register_for_tests(actor=contributor, model=model)
        version_move(drafted, Stage.ARCHIVED, actor=contributor)
    archived = model_page(model=model).columns(per_column=3)[3]
    assert [v.number for v in archived.shown] == [6, 5, 1] and archived.hidden_count == 2
