"""The models and versions lists page by cursor: every page costs the same, following `next` visits each
row once even while rows are added, and a made-up cursor or page size is a 400, never a 500."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.support import API, bearer, get
from tests.factories import model_create_for_tests, version_register_for_tests
from warehouse.registry import listing
from warehouse.registry.listing import BAD_CURSOR, cursor_for
from warehouse.registry.models import ModelVersion, RegisteredModel


@pytest.fixture
def headers(contributor):
    return bearer(contributor)


@pytest.fixture
def ten_models(contributor, team):
    return [
        model_create_for_tests(actor=contributor, name=f"model-{index:02d}", team=team) for index in range(10)
    ]


def _path(url: str) -> str:
    """An absolute `next` as this API's path: it must point at this warehouse's own API."""
    assert url.startswith(f"{settings.WAREHOUSE_BASE_URL}{API}/"), url
    return url.removeprefix(f"{settings.WAREHOUSE_BASE_URL}{API}")


def follow(client, contract, path: str, documented: str, headers, between=None) -> list[dict]:
    """Every page from `path` on, through `next`; `between(n)` runs after page n."""
    pages = []
    while path is not None:
        body = contract.check(get(client, path, **headers), documented, "get")
        pages.append(body)
        if between is not None:
            between(len(pages))
        path = _path(body["next"]) if body["next"] else None
    return pages


def test_following_next_visits_every_model_once_in_name_order(client, contract, ten_models, headers):
    pages = follow(client, contract, "/models?page_size=3", "/models", headers)

    names = [row["name"] for body in pages for row in body["results"]]
    assert names == list(RegisteredModel.objects.order_by("name").values_list("name", flat=True))
    assert [len(body["results"]) for body in pages] == [3, 3, 3, 1]
    assert all((body["count"], body["count_exact"]) == (10, True) for body in pages)
    # The first page is also the numbered form's page 1; the pages after it are reached through a cursor.
    assert [(body["page"], body["pages"]) for body in pages] == [(1, 4)] + [(None, None)] * 3
    # `next` keeps the request's own parameters.
    assert parse_qs(urlsplit(pages[0]["next"]).query)["page_size"] == ["3"]


def test_a_model_added_between_pages_neither_repeats_nor_hides_another(
    client, contract, ten_models, contributor, team, headers
):
    before = set(RegisteredModel.objects.values_list("name", flat=True))

    def add(page_number: int):
        if page_number == 1:
            # One sorting before the pages already read, one after: only the second can still be shown.
            model_create_for_tests(actor=contributor, name="model-00a", team=team)
            model_create_for_tests(actor=contributor, name="model-08a", team=team)

    pages = follow(client, contract, "/models?page_size=3", "/models", headers, between=add)

    names = [row["name"] for body in pages for row in body["results"]]
    assert len(names) == len(set(names)), names
    assert set(names) == before | {"model-08a"}
    in_order = RegisteredModel.objects.order_by("name").values_list("name", flat=True)
    assert names == [name for name in in_order if name != "model-00a"]


def test_a_search_pages_by_cursor_too(client, contract, ten_models, headers):
    pages = follow(client, contract, "/models?search=MODEL-0&page_size=4", "/models", headers)

    assert [len(body["results"]) for body in pages] == [4, 4, 2]
    assert all("search=MODEL-0" in body["next"] for body in pages[:-1])


def test_numbered_pages_still_work_and_agree_with_the_cursor(client, contract, ten_models, headers):
    second = contract.check(get(client, "/models?page_size=3&page=2", **headers), "/models", "get")
    first = get(client, "/models?page_size=3", **headers).json()
    by_cursor = get(client, _path(first["next"]), **headers).json()

    assert (second["page"], second["pages"], second["count"]) == (2, 4, 10)
    assert [row["name"] for row in second["results"]] == [row["name"] for row in by_cursor["results"]]
    # `next` from a numbered page continues by cursor, where that page ended.
    assert "page=" not in second["next"] and "cursor=" in second["next"]
    assert get(client, _path(second["next"]), **headers).json()["results"][0]["name"] == "model-06"
    # A page past the last answers the last page, as it always did.
    last = get(client, "/models?page_size=3&page=99", **headers).json()
    assert (last["page"], [row["name"] for row in last["results"]], last["next"]) == (4, ["model-09"], None)


def test_past_the_count_limit_the_count_is_a_floor_and_numbered_pages_stop(
    client, contract, ten_models, headers, monkeypatch
):
    monkeypatch.setattr(listing, "COUNT_LIMIT", 4)

    body = contract.check(get(client, "/models?page_size=3", **headers), "/models", "get")
    assert (body["count"], body["count_exact"], body["pages"]) == (4, False, 2)
    too_deep = get(client, "/models?page_size=3&page=3", **headers)
    assert too_deep.status_code == 400
    assert "follow `next`" in contract.check(too_deep, "/models", "get")["error"]["fields"]["page"][0]
    # The cursor reaches them all.
    pages = follow(client, contract, "/models?page_size=3", "/models", headers)
    assert len([row for body in pages for row in body["results"]]) == 10


def test_following_next_visits_every_version_newest_first(client, contract, model, contributor, headers):
    for _ in range(6):
        version_register_for_tests(actor=contributor, model=model, slices=0)

    def register(page_number: int):
        if page_number == 1:
            version_register_for_tests(actor=contributor, model=model, slices=0)

    documented = "/models/{name}/versions"
    pages = follow(
        client, contract, "/models/fraud-scorer/versions?page_size=2", documented, headers, register
    )

    numbers = [row["version"] for body in pages for row in body["results"]]
    # Version 8, registered after the first page was read, is newer than every page still to come.
    assert numbers == [7, 6, 5, 4, 3, 2, 1]
    assert (pages[0]["count"], pages[-1]["count"]) == (7, 8)


def test_versions_come_50_a_page_unless_asked(client, contract, model, contributor, headers):
    ModelVersion.objects.bulk_create(
        ModelVersion(model=model, number=number, registered_by=contributor) for number in range(2, 56)
    )

    body = contract.check(
        get(client, "/models/fraud-scorer/versions", **headers), "/models/{name}/versions", "get"
    )
    assert (len(body["results"]), body["count"], body["results"][0]["version"]) == (50, 55, 55)
    rest = get(client, _path(body["next"]), **headers).json()
    assert [row["version"] for row in rest["results"]] == [5, 4, 3, 2, 1] and rest["next"] is None
    full = get(client, "/models/fraud-scorer/versions?page_size=100", **headers).json()
    assert (len(full["results"]), full["next"]) == (55, None)


def _tampered(cursor: str) -> str:
    payload, signature = cursor.rsplit(":", 1)
    return f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}:{signature}"


@pytest.mark.parametrize(
    "cursor",
    [
        "made-up",
        "%00",
        "eyJrIjoxfQ",  # base64 JSON, unsigned
        _tampered(cursor_for(kind="models", key="model-03")),
        cursor_for(kind="versions", key=3),  # another list's cursor
        cursor_for(kind="models", key=3),  # signed, but not a name
    ],
)
def test_a_cursor_this_list_did_not_give_is_400(client, contract, ten_models, headers, cursor):
    response = get(client, f"/models?cursor={cursor}", **headers)

    assert response.status_code == 400, response.content
    assert contract.check(response, "/models", "get")["error"]["fields"] == {"cursor": [BAD_CURSOR]}


BOTH_LISTS = [("page_size=0", "page_size"), ("page_size=101", "page_size"), ("page_size=ten", "page_size")]
MODELS_ONLY = [
    ("cursor=", "cursor"),
    ("page=2&cursor=x", "page"),
    ("search=%00", "search"),
    ("search=" + "x" * 101, "search"),
    ("team=%00", "team"),
]


@pytest.mark.parametrize(
    ("documented", "query", "field"),
    [("/models", query, field) for query, field in BOTH_LISTS + MODELS_ONLY]
    + [("/models/{name}/versions", query, field) for query, field in BOTH_LISTS],
)
def test_bad_list_parameters_are_a_clear_400(client, contract, model, headers, documented, query, field):
    path = documented.replace("{name}", "fraud-scorer")

    response = get(client, f"{path}?{query}", **headers)

    assert response.status_code == 400, response.content
    fields = contract.check(response, documented, "get")["error"]["fields"]
    assert list(fields) == [field], fields


def test_a_versions_cursor_of_a_model_you_cannot_see_is_still_404(client, model, outsider):
    cursor = cursor_for(kind="versions", key=1)
    assert (
        get(client, f"/models/fraud-scorer/versions?cursor={cursor}", **bearer(outsider)).status_code == 404
    )


def _queries(client, path: str, headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert get(client, path, **headers).status_code == 200
    return len(queries)


def test_a_deep_page_runs_the_queries_of_the_first(client, ten_models, model, contributor, headers):
    for _ in range(9):
        version_register_for_tests(actor=contributor, model=model, slices=0)
    get(client, "/models", **headers)  # the token's first use records it

    first_models = _queries(client, "/models?page_size=2", headers)
    deep_models = _queries(
        client, f"/models?page_size=2&cursor={cursor_for(kind='models', key='model-07')}", headers
    )
    numbered = _queries(client, "/models?page_size=2&page=4", headers)
    first_versions = _queries(client, "/models/fraud-scorer/versions?page_size=2", headers)
    deep_versions = _queries(
        client,
        f"/models/fraud-scorer/versions?page_size=2&cursor={cursor_for(kind='versions', key=3)}",
        headers,
    )

    searched = _queries(client, "/models?page_size=2&search=payments", headers)
    searched_deep = _queries(
        client,
        f"/models?page_size=2&search=payments&cursor={cursor_for(kind='models', key='model-07')}",
        headers,
    )

    # The token, the reader (their teams, the registry's size, their grants), the count, the page, the
    # page's versions counted.
    assert first_models == deep_models == numbered == 5
    # A search first finds the teams and people whose names hold the term: one query more.
    assert searched == searched_deep == 6
    assert first_versions == deep_versions == 5
