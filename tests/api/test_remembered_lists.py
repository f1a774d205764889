"""The models list remembered between requests while nothing it shows has changed (api/remembered.py): a
warm page runs no query, and each change that would alter it (a version registered or moved, a model
described, added or deleted, a team renamed, a grant taken away) counts from the very next request.

Transactional, on PostgreSQL: the feed hears only what was committed, and inside a test's transaction
nothing is remembered."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import remove_perm

from tests.api.support import bearer, get, post_json
from tests.factories import evidence_payload, version_move
from warehouse import middleware
from warehouse.accounts.permissions import VIEW_MODEL
from warehouse.changes import Memo, change_feed, heard_before_answering
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _listed(client, headers, query: str = "") -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = get(client, f"/models{query}", **headers)
    assert response.status_code == 200, response.content
    return response.json(), len(queries)


def _warmed(client, headers, query: str = "") -> dict:
    """The list, asked until remembered: the first request of a process also starts its change feed, which
    vouches for nothing until it listens."""
    assert change_feed().wait_until_live(timeout=5)
    _listed(client, headers, query)
    body, queries = _listed(client, headers, query)
    assert queries == 0, "not remembered: what follows would hold nothing"
    return body


def _row(body: dict, name: str) -> dict:
    return next(row for row in body["results"] if row["name"] == name)


def test_a_warm_page_runs_no_query_and_answers_the_same(client, model, viewer):
    headers = bearer(viewer)
    cold = _warmed(client, headers)

    warm, queries = _listed(client, headers)

    assert queries == 0
    assert warm == cold and [row["name"] for row in warm["results"]] == [model.name]


def test_a_version_registered_through_the_api_counts_in_the_callers_next_list(client, model, contributor):
    headers = bearer(contributor)
    assert _row(_warmed(client, headers), model.name)["version_count"] == 1

    # The write's answer waits until this process heard it (HeardBeforeAnsweringMiddleware): no sync here.
    response = post_json(client, f"/models/{model.name}/versions", evidence_payload(), **headers)
    assert response.status_code == 201, response.content

    assert _row(_listed(client, headers)[0], model.name)["version_count"] == 2


def test_a_model_registered_through_the_api_is_in_the_callers_next_list(client, model, contributor, team):
    headers = bearer(contributor)
    assert [row["name"] for row in _warmed(client, headers)["results"]] == [model.name]

    payload = evidence_payload(model={"description": "Chargebacks.", "team": team.name})
    assert post_json(client, "/models/chargeback-scorer/versions", payload, **headers).status_code == 201

    assert [row["name"] for row in _listed(client, headers)[0]["results"]] == [
        "chargeback-scorer",
        model.name,
    ]


def test_a_stage_change_counts_from_the_next_request(client, model, viewer, superuser):
    headers = bearer(viewer)
    assert _row(_warmed(client, headers), model.name)["production_version"] is None

    version_move(model.versions.get(number=1), Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    heard_before_answering()

    assert _row(_listed(client, headers)[0], model.name)["production_version"] == 1


def test_changes_made_outside_the_services_count_too(client, model, viewer, team):
    # The triggers announce every write to the tables, whoever makes it (a shell, the admin, a migration).
    headers = bearer(viewer)
    for query in ("", "?team=payments", "?owner=carol", "?stage=staging", "?search=payments"):
        _warmed(client, headers, query)

    RegisteredModel.objects.filter(pk=model.pk).update(description="Scores card transactions.")
    heard_before_answering()
    assert _row(_listed(client, headers)[0], model.name)["description"] == "Scores card transactions."

    Group.objects.filter(pk=team.pk).update(name="risk")
    heard_before_answering()
    assert _row(_listed(client, headers)[0], model.name)["team"] == "risk"
    assert _listed(client, headers, "?team=payments")[0]["count"] == 0
    assert _listed(client, headers, "?search=payments")[0]["count"] == 0

    User.objects.filter(pk=model.owner_id).update(username="carol-ml")
    heard_before_answering()
    assert _row(_listed(client, headers)[0], model.name)["owner"] == "carol-ml"
    assert _listed(client, headers, "?owner=carol")[0]["count"] == 0

    ModelVersion.objects.filter(model=model).update(stage=Stage.STAGING)
    heard_before_answering()
    assert _listed(client, headers, "?stage=staging")[0]["count"] == 1


def test_a_grant_taken_away_hides_the_model_from_the_next_request(client, model, viewer, team):
    headers = bearer(viewer)
    assert _warmed(client, headers)["count"] == 1

    remove_perm(VIEW_MODEL, team, model)
    heard_before_answering()

    assert _listed(client, headers)[0]["count"] == 0


def test_a_person_made_superuser_sees_every_model_from_the_next_request(client, model, outsider):
    headers = bearer(outsider)
    assert _warmed(client, headers)["count"] == 0

    User.objects.filter(pk=outsider.pk).update(is_superuser=True)
    heard_before_answering()

    assert _listed(client, headers)[0]["count"] == 1


def test_a_signed_in_persons_pages_are_remembered_and_forgotten_alike(client, model, viewer, team):
    client.force_login(viewer)
    _listed(client, {})
    body, queries = _listed(client, {})
    # Only the session and the person, as on every signed-in request: no registry table is read.
    assert body["count"] == 1 and queries <= 2

    remove_perm(VIEW_MODEL, team, model)
    heard_before_answering()

    assert _listed(client, {})[0]["count"] == 0


def test_a_write_not_heard_in_time_makes_the_process_forget_what_it_remembered(
    client, model, viewer, monkeypatch
):
    # A busy server may answer the writer's round trip late: the write's answer does not wait longer, and
    # nothing remembered before it is served again.
    headers = bearer(viewer)
    _warmed(client, headers)
    monkeypatch.setattr(change_feed(), "sync", lambda timeout: False)

    heard_before_answering()

    assert _listed(client, headers)[1] >= 3


def test_each_caller_and_each_url_is_remembered_apart(client, model, viewer, outsider):
    _warmed(client, bearer(viewer))
    _warmed(client, bearer(viewer), "?search=fraud")

    # Someone who sees nothing is not answered what the viewer was.
    assert _listed(client, bearer(outsider))[0]["count"] == 0
    assert _listed(client, bearer(viewer), "?search=fraud")[0]["count"] == 1
    assert _listed(client, bearer(viewer), "?search=nothing-like-it")[0]["count"] == 0


def test_every_page_is_read_from_the_database_while_the_feed_cannot_vouch(client, model, viewer, monkeypatch):
    headers = bearer(viewer)
    _warmed(client, headers)
    monkeypatch.setattr(change_feed(), "stamp", lambda: None)

    body, queries = _listed(client, headers)

    assert queries >= 3 and body["count"] == 1


def test_news_of_the_registry_keeps_remembered_tokens(client, model, viewer):
    # Registering a version changes the lists, not who a token speaks for: the caller is not read again.
    headers = bearer(viewer)
    _warmed(client, headers)

    RegisteredModel.objects.filter(pk=model.pk).update(description="Scores card transactions.")
    heard_before_answering()
    with CaptureQueriesContext(connection) as queries:
        assert get(client, "/models", **headers).status_code == 200

    assert not [query for query in queries.captured_queries if "accounts_apitoken" in query["sql"]]


def test_every_write_is_answered_only_once_this_process_heard_it(client, model, contributor, monkeypatch):
    # PostgreSQL delivers a commit's news to the listening connection a moment after the commit: one read in
    # a hundred made within two milliseconds came before it on a busy machine. Too rare to catch here, so
    # what is held is that each write waits for the round trip that closes that gap, and each read does not.
    waits = []
    monkeypatch.setattr(middleware, "heard_before_answering", lambda: waits.append(True))
    headers = bearer(contributor)

    get(client, "/models", **headers)
    assert waits == []
    response = post_json(client, f"/models/{model.name}/versions", evidence_payload(), **headers)
    refused = post_json(client, "/models/NOT-A-NAME/versions", evidence_payload(), **headers)

    assert (response.status_code, refused.status_code) == (201, 400)
    assert waits == [True, True]


def test_what_is_remembered_is_bounded_by_its_size():
    # A caller asking for ever new URLs of pages with long descriptions must not fill a process's memory.
    memo = Memo(max_entries=100, max_weight=1_000)
    stamp = object()  # any stamp: the bound is what is under test
    memo.put("first", stamp, "a page", weight=600)
    memo.put("second", stamp, "another", weight=600)  # past the bound: it starts again with this one
    memo.put("huge", stamp, "more than it may hold", weight=1_001)

    assert memo.get("first", stamp) is None
    assert memo.get("second", stamp) == "another"
    assert memo.get("huge", stamp) is None
