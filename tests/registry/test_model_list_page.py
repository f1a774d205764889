"""The models list page: numbered pages while the count is exact, Next by cursor past them, a broken link
answered with the first page and a word on why, and the same queries on every page at any size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import model_create_for_tests
from warehouse.registry import listing, views
from warehouse.registry.listing import cursor_for


@pytest.fixture
def seven(contributor, team):
    return [model_create_for_tests(actor=contributor, name=f"model-{index}", team=team) for index in range(7)]


@pytest.fixture
def signed_in(client, viewer, monkeypatch):
    monkeypatch.setattr(views, "MODELS_PER_PAGE", 3)
    client.force_login(viewer)
    return client


def names(response) -> list[str]:
    return [model.name for model in response.context["listing"].rows]


def test_it_pages_by_number_while_the_count_is_exact(signed_in, seven):
    response = signed_in.get(reverse("registry:models"), {"page": "2", "search": "model"})
    html = response.content.decode()

    assert names(response) == ["model-3", "model-4", "model-5"]
    assert "7 models matching" in html and "Page 2 of 3 · 4–6 of 7" in html
    assert 'href="?search=model&amp;page=3" rel="next"' in html
    assert 'href="?search=model&amp;page=1" rel="prev"' in html and "Last »" in html
    # A page that is not a number, or past the last, shows the first or the last, as before.
    assert names(signed_in.get(reverse("registry:models"), {"page": "x"})) == [
        "model-0",
        "model-1",
        "model-2",
    ]
    assert names(signed_in.get(reverse("registry:models"), {"page": "99"})) == ["model-6"]


def test_past_the_count_limit_it_says_so_and_goes_on_by_cursor(signed_in, seven, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_LIMIT", 5)

    last_numbered = signed_in.get(reverse("registry:models"), {"page": "2"})
    html = last_numbered.content.decode()
    assert "More than 5 models" in html and "Page 2 of 2 numbered" in html and "Last »" not in html
    following = last_numbered.context["next_url"]
    assert following == f"?cursor={cursor_for(kind='models', key='model-5')}" and following in html.replace(
        "&amp;", "&"
    )

    beyond = signed_in.get(reverse("registry:models") + following)
    assert names(beyond) == ["model-6"]
    assert "Continued by name, after the numbered pages" in beyond.content.decode()


@pytest.mark.parametrize("query", [{"cursor": "made-up"}, {"cursor": cursor_for(kind="versions", key=2)}])
def test_a_broken_link_shows_the_first_page_and_why(signed_in, seven, query):
    response = signed_in.get(reverse("registry:models"), query)

    assert response.status_code == 200
    assert names(response) == ["model-0", "model-1", "model-2"]
    assert "Not a cursor this list gave" in response.content.decode()


def _queries(client, **query) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("registry:models"), query).status_code == 200
    return len(queries)


def test_every_page_runs_the_same_queries_at_any_size(signed_in, contributor, team):
    for index in range(4):
        model_create_for_tests(actor=contributor, name=f"model-a{index}", team=team)
    small = _queries(signed_in)
    for index in range(12):
        model_create_for_tests(actor=contributor, name=f"model-b{index:02d}", team=team)

    assert _queries(signed_in) == small
    assert _queries(signed_in, page="4") == small
    assert _queries(signed_in, cursor=cursor_for(kind="models", key="model-b05")) == small
    # A search finds the matching teams and people first.
    assert _queries(signed_in, search="model") == small + 1


def test_a_list_that_fits_on_its_first_page_is_its_own_count(signed_in, contributor, team):
    for index in range(4):
        model_create_for_tests(actor=contributor, name=f"model-{index}", team=team)
    full = _queries(signed_in)

    found = _queries(signed_in, search="model-1")

    # One query more for the teams and people the search matches, one fewer for the count: the page
    # holds the whole list.
    assert found == full
    response = signed_in.get(reverse("registry:models"), {"search": "model-1"})
    assert names(response) == ["model-1"]
    assert response.context["listing"].count == 1 and response.context["listing"].count_exact
