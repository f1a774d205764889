"""Who a token speaks for, and which teams decide what they see, remembered between API requests while the
change feed vouches for them (accounts/serving.py, accounts/visibility.py): a warm list reads neither, and
a token revoked, a person deactivated or a team joined or left counts from the very next request.

Transactional, on PostgreSQL: the feed hears only what was committed, and inside a test's transaction
nothing is remembered."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from tests.api.support import bearer, get, issue_token
from tests.factories import model_create_for_tests
from warehouse.accounts import visibility
from warehouse.accounts.permissions import VIEW_MODEL
from warehouse.accounts.services import api_token_revoke
from warehouse.api import remembered
from warehouse.changes import heard_before_answering

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def pages_read_afresh(monkeypatch):
    # The list's pages are remembered too (tests/api/test_remembered_lists.py); here every page is read, so
    # that what is counted is the reads of the caller and the reader.
    monkeypatch.setattr(remembered, "current_stamp", lambda: None)


def _warmed(client, headers) -> list[str]:
    """The list, asked until remembered: the first request of a process also starts its change feed, which
    vouches for nothing until it listens."""
    for _ in range(2):
        names, _ = _listed(client, headers)
    return names


def _listed(client, headers) -> tuple[list[str], int]:
    with CaptureQueriesContext(connection) as queries:
        response = get(client, "/models", **headers)
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]], len(queries)


def test_a_warm_list_reads_neither_the_token_nor_the_reader(client, model, viewer):
    cold, cold_queries = _listed(client, bearer(viewer))
    headers = bearer(viewer)
    _warmed(client, headers)

    warm, warm_queries = _listed(client, headers)

    assert warm == cold == [model.name]
    # Cold: the token (and its last use), the reader, the page, its versions counted. Warm: the page and
    # its versions counted; a first page that holds the whole list is its own count.
    assert cold_queries >= 4
    assert warm_queries == 2


def test_the_person_of_a_remembered_token_is_loaded_afresh_for_each_request(client, model, viewer):
    headers = bearer(viewer)
    _warmed(client, headers)

    response = get(client, f"/models/{model.name}", **headers)
    again = get(client, f"/models/{model.name}", **headers)

    assert response.status_code == again.status_code == 200
    assert response.json() == again.json()


def test_a_revoked_token_is_refused_on_the_next_request(client, model, viewer):
    issued = issue_token(viewer)
    headers = bearer(issued)
    _warmed(client, headers)
    assert _listed(client, headers)[1] == 2  # remembered

    api_token_revoke(actor=viewer, token=issued.token)

    assert get(client, "/models", **headers).status_code == 401


def test_a_deactivated_person_is_refused_on_the_next_request(client, model, viewer):
    headers = bearer(viewer)
    _warmed(client, headers)
    assert _listed(client, headers)[1] == 2

    User.objects.filter(pk=viewer.pk).update(is_active=False)
    heard_before_answering()

    assert get(client, "/models", **headers).status_code == 401


def test_a_team_joined_or_left_counts_from_the_next_request(
    client, monkeypatch, contributor, superuser, team, outsider
):
    # Every read walks (model by model, with the reader's teams named as numbers), where a remembered
    # reader's teams decide what is seen.
    monkeypatch.setattr(visibility, "WALK_PROBE_COST", 0)
    risk = Group.objects.create(name="risk")
    own = model_create_for_tests(actor=contributor, name="payments-scorer", team=team)
    theirs = model_create_for_tests(actor=superuser, name="risk-scorer", team=risk)
    assign_perm(VIEW_MODEL, team, own)
    assign_perm(VIEW_MODEL, risk, theirs)
    outsider.groups.add(team)
    heard_before_answering()
    headers = bearer(outsider)
    assert _warmed(client, headers) == ["payments-scorer"]
    assert _listed(client, headers) == (["payments-scorer"], 2)

    outsider.groups.add(risk)
    heard_before_answering()
    assert _listed(client, headers)[0] == ["payments-scorer", "risk-scorer"]

    outsider.groups.remove(team)
    heard_before_answering()
    assert _listed(client, headers)[0] == ["risk-scorer"]
