"""GET /api/v1/models/<name>/production: the serving systems' hot path.

What the last committed stage change wrote, with a strong ETag; 304 to pollers that hold it; no query on a
warm path; never an uncommitted or superseded answer; revocations and permission changes felt on the next
request; and `?wait=` held until production changes."""

import json
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from tests.api.support import bearer, get, issue_token
from tests.factories import version_move, version_register_for_tests
from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import api_token_revoke
from warehouse.changes import STALE_AFTER_SECONDS, change_feed, heard_before_answering
from warehouse.registry.models import Stage
from warehouse.registry.services import version_transition

PRODUCTION = "/models/{name}/production"
LOOKUP = "/models/fraud-scorer/production"


def _lookup(client, headers, **extra):
    return get(client, LOOKUP, **headers, **extra)


def _heard() -> None:
    """After a raw write, as an admin's shell would make it: it counts from the moment this process hears
    it (the services wait for that themselves before answering, heard_before_answering)."""
    heard_before_answering()


def _queries_of_lookup(client, headers, **extra) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        response = _lookup(client, headers, **extra)
    return response, len(queries)


# --- What it answers ------------------------------------------------------------------------------------


def test_nothing_in_production_is_404_no_production_version(client, contract, version, viewer):
    response = _lookup(client, bearer(viewer))

    assert response.status_code == 404
    assert contract.check(response, PRODUCTION, "get")["error"]["code"] == "no_production_version"
    assert "ETag" not in response


def test_it_answers_the_production_version_with_artifacts_digests_and_rollback_target(
    client, contract, model, version, contributor
):
    headers = bearer(contributor)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    first = contract.check(_lookup(client, headers), PRODUCTION, "get")

    assert (first["id"], first["version"], first["uuid"], first["stage"]) == (
        "fraud-scorer/v1",
        1,
        str(version.uuid),
        "production",
    )
    assert first["rollback_target"] is None
    assert {a["name"]: (a["uri"], a["sha256"], a["size_bytes"]) for a in first["artifacts"]} == {
        "model.onnx": ("s3://models/fraud/model.onnx", "ab" * 32, 123456),
        "config.json": ("s3://models/fraud/config.json", "cd" * 32, 512),
    }

    replacement = version_register_for_tests(
        actor=contributor,
        model=model,
        artifacts=[
            {
                "name": "model.onnx",
                "kind": "weights",
                "uri": "s3://models/fraud/v2/model.onnx",
                "sha256": "ef" * 32,
                "size_bytes": 99,
            }
        ],
    )
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    second = contract.check(_lookup(client, headers), PRODUCTION, "get")

    assert second["id"] == "fraud-scorer/v2"
    assert second["rollback_target"] == "fraud-scorer/v1"
    assert [(a["uri"], a["sha256"]) for a in second["artifacts"]] == [
        ("s3://models/fraud/v2/model.onnx", "ef" * 32)
    ]


def test_archiving_the_production_version_answers_404_at_once(client, contract, version, contributor):
    headers = bearer(contributor)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert _lookup(client, headers).status_code == 200

    version_move(version, Stage.ARCHIVED, actor=contributor)

    response = _lookup(client, headers)
    assert response.status_code == 404
    assert contract.check(response, PRODUCTION, "get")["error"]["code"] == "no_production_version"


def test_a_signed_in_browser_may_ask_too(client, version, contributor, viewer):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    client.force_login(viewer)

    assert _lookup(client, {}).json()["id"] == "fraud-scorer/v1"


# --- Who may ask ----------------------------------------------------------------------------------------


def test_without_credentials_it_is_401(client, version):
    response = _lookup(client, {})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="warehouse"'
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("header", ["Token abc", "Bearer ", "Bearer wh_not-a-token", "Basic dXNlcjpwYXNz"])
def test_a_bad_authorization_header_is_401(client, version, header):
    assert _lookup(client, {"HTTP_AUTHORIZATION": header}).status_code == 401


def test_a_hidden_model_reads_exactly_as_a_missing_one(client, version, contributor, outsider):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(outsider)

    hidden = _lookup(client, headers)
    missing = get(client, "/models/no-such-model/production", **headers)

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert hidden.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", ["fraud%00scorer", "Fraud-Scorer", "-x-", "a" * 65])
def test_a_name_no_model_can_have_is_404_without_asking_the_database(client, version, contributor, name):
    headers = bearer(issue_token(contributor))

    with CaptureQueriesContext(connection) as queries:
        response = get(client, f"/models/{name}/production", **headers)

    assert response.json()["error"]["code"] == "not_found"
    assert not [query for query in queries if "registry_" in query["sql"]]


def test_only_get_is_allowed(client, version, contributor):
    response = client.post(f"/api/v1{LOOKUP}", **bearer(contributor))

    assert response.status_code == 405
    assert response["Allow"] == "GET"


# --- ETags and 304 --------------------------------------------------------------------------------------


def test_it_answers_304_to_a_poller_holding_the_current_etag(client, contract, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(contributor)
    first = _lookup(client, headers)
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34
    assert first["Cache-Control"] == "private, no-cache"

    unchanged = _lookup(client, headers, HTTP_IF_NONE_MATCH=etag)

    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["ETag"] == etag
    # Weak comparison, lists and the wildcard, as HTTP has them.
    assert _lookup(client, headers, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert _lookup(client, headers, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
    assert _lookup(client, headers, HTTP_IF_NONE_MATCH="*").status_code == 304


def test_a_stale_etag_gets_the_new_answer(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(contributor)
    old_etag = _lookup(client, headers)["ETag"]
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    response = _lookup(client, headers, HTTP_IF_NONE_MATCH=old_etag)

    assert response.status_code == 200
    assert response.json()["id"] == "fraud-scorer/v2"
    assert response["ETag"] != old_etag


def test_the_body_is_the_stored_answer_byte_for_byte(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    response = _lookup(client, bearer(contributor))

    assert response.content == model.production_answer.body.encode()
    assert response["ETag"] == model.production_answer.etag
    assert json.loads(response.content)["id"] == "fraud-scorer/v1"


# --- Real commits: what each process remembers, and what makes it forget ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_after_real_commits_it_answers_the_new_version_immediately(
    client, contract, model, version, contributor
):
    """No test transaction here: each stage change really commits and is announced by PostgreSQL."""
    headers = bearer(issue_token(contributor))
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert _lookup(client, headers).json()["id"] == "fraud-scorer/v1"
    assert _lookup(client, headers).json()["id"] == "fraud-scorer/v1"  # now remembered

    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    promoted = contract.check(_lookup(client, headers), PRODUCTION, "get")
    assert (promoted["id"], promoted["rollback_target"]) == ("fraud-scorer/v2", "fraud-scorer/v1")

    version.refresh_from_db()
    version_transition(
        version=version, to_stage=Stage.PRODUCTION, actor=contributor, reason="test: roll back"
    )
    rolled_back = contract.check(_lookup(client, headers), PRODUCTION, "get")
    assert rolled_back["id"] == "fraud-scorer/v1"

    version_transition(version=version, to_stage=Stage.ARCHIVED, actor=contributor, reason="test: retire")
    assert _lookup(client, headers).json()["error"]["code"] == "no_production_version"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_warm_lookup_runs_no_query(client, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(issue_token(contributor))
    cold, cold_queries = _queries_of_lookup(client, headers)

    warm, warm_queries = _queries_of_lookup(client, headers)
    not_modified, not_modified_queries = _queries_of_lookup(client, headers, HTTP_IF_NONE_MATCH=cold["ETag"])

    assert cold_queries >= 3  # the token (and its last use), the answer, who may see it
    assert (warm.status_code, warm_queries) == (200, 0)
    assert (not_modified.status_code, not_modified_queries) == (304, 0)
    assert warm.content == cold.content


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_revoked_token_is_refused_on_the_next_request(client, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    issued = issue_token(contributor)
    headers = bearer(issued)
    assert _queries_of_lookup(client, headers)[0].status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0  # remembered

    api_token_revoke(actor=contributor, token=issued.token)

    assert _lookup(client, headers).status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deactivated_person_is_refused_on_the_next_request(client, version, contributor, viewer):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(issue_token(viewer))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    User.objects.filter(pk=viewer.pk).update(is_active=False)
    _heard()

    assert _lookup(client, headers).status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_leaving_the_team_hides_the_model_on_the_next_request(client, version, contributor, viewer, team):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(issue_token(viewer))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    viewer.groups.remove(team)
    _heard()

    assert _lookup(client, headers).json()["error"]["code"] == "not_found"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_permission_taken_from_the_team_hides_the_model_on_the_next_request(
    client, model, version, contributor, viewer, team
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(issue_token(viewer))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    remove_perm("registry.view_registeredmodel", Group.objects.get(pk=team.pk), model)
    _heard()

    assert _lookup(client, headers).json()["error"]["code"] == "not_found"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_permission_taken_from_the_person_hides_the_model_on_the_next_request(
    client, model, version, contributor, viewer, team
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    viewer.groups.remove(team)
    assign_perm("registry.view_registeredmodel", viewer, model)  # on this model only, to them alone
    headers = bearer(issue_token(viewer))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    remove_perm("registry.view_registeredmodel", viewer, model)
    _heard()

    assert _lookup(client, headers).json()["error"]["code"] == "not_found"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_the_group_that_granted_it_hides_the_model_on_the_next_request(
    client, model, version, contributor, viewer, team
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    auditors = Group.objects.create(name="auditors")
    viewer.groups.remove(team)
    viewer.groups.add(auditors)
    assign_perm("registry.view_registeredmodel", auditors, model)
    headers = bearer(issue_token(viewer))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    auditors.delete()
    _heard()

    assert _lookup(client, headers).json()["error"]["code"] == "not_found"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_superuser_demoted_loses_what_only_a_superuser_sees(client, version, contributor, outsider):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    User.objects.filter(pk=outsider.pk).update(is_superuser=True)
    headers = bearer(issue_token(outsider))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    User.objects.filter(pk=outsider.pk).update(is_superuser=False)
    _heard()

    assert _lookup(client, headers).json()["error"]["code"] == "not_found"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_token_made_to_expire_is_refused_on_the_next_request(client, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    issued = issue_token(contributor)
    headers = bearer(issued)
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0

    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _heard()

    assert _lookup(client, headers).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_an_uncommitted_change_is_never_remembered(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    headers = bearer(issue_token(contributor))
    assert _lookup(client, headers).json()["id"] == "fraud-scorer/v1"

    with pytest.raises(RuntimeError), transaction.atomic():
        version_move(second, Stage.PRODUCTION, actor=contributor)
        # Asked on the connection that made the change, the lookup sees it, as every read there does...
        assert _lookup(client, headers).json()["id"] == "fraud-scorer/v2"
        raise RuntimeError("the change is rolled back")

    # ...but never keeps it: the change did not commit.
    assert _lookup(client, headers).json()["id"] == "fraud-scorer/v1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_its_feed_connection_killed_it_reads_the_database_and_misses_nothing(
    client, model, version, contributor
):
    """The listening connection is terminated by PostgreSQL, and a promotion commits before it is back: its
    notification reaches no one here, yet the next lookup answers the promoted version."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    headers = bearer(issue_token(contributor))
    assert _lookup(client, headers).status_code == 200
    assert _queries_of_lookup(client, headers)[1] == 0
    feed = change_feed()
    listener_pid = feed._connection.info.backend_pid

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [listener_pid])
    version_move(second, Stage.PRODUCTION, actor=contributor)

    assert _lookup(client, headers).json()["id"] == "fraud-scorer/v2"
    # The feed listens again within a second, and lookups are warm again.
    assert feed.wait_until_live(timeout=5)
    _lookup(client, headers)
    assert _queries_of_lookup(client, headers)[1] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_its_feed_connection_hung_it_stops_trusting_it_within_a_second(
    client, model, version, contributor
):
    """The listening backend stops answering (as a cut network or a hung server would, with no error on
    the socket): within STALE_AFTER_SECONDS the feed gives it up and listens on a new connection."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    headers = bearer(issue_token(contributor))
    _lookup(client, headers)
    assert _queries_of_lookup(client, headers)[1] == 0
    feed = change_feed()
    hung = feed._connection.info.backend_pid
    session = feed.stamp().session

    os.kill(hung, signal.SIGSTOP)
    try:
        version_move(second, Stage.PRODUCTION, actor=contributor)  # its notification reaches nobody here
        hung_at = time.monotonic()
        while feed.stamp() is None or feed.stamp().session == session:
            assert time.monotonic() - hung_at < STALE_AFTER_SECONDS + 2, "the feed still trusts it"
            time.sleep(0.05)
    finally:
        os.kill(hung, signal.SIGCONT)

    assert _lookup(client, headers).json()["id"] == "fraud-scorer/v2"


# --- Watching: ?wait= ------------------------------------------------------------------------------------


def _lookup_in_thread(headers: dict, **extra) -> tuple[threading.Thread, dict]:
    """A lookup on its own client and thread (its own database connection), as another serving pod."""
    outcome: dict = {}

    def ask() -> None:
        started = time.monotonic()
        try:
            outcome["response"] = _lookup(Client(), headers, **extra)
        finally:
            outcome["seconds"] = time.monotonic() - started
            connection.close()

    thread = threading.Thread(target=ask)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize(
    "wait", ["-1", "61", "100", "1.5", "soon", "٣", "9" * 5000, ["", "30"], ["30", "30"]], ids=str
)
def test_a_bad_wait_is_400_naming_the_parameter(client, version, contributor, wait):
    response = _lookup(client, bearer(contributor), data={"wait": wait})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["wait"]


def test_a_wait_on_a_stale_etag_answers_at_once(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    started = time.monotonic()

    response = _lookup(client, bearer(contributor), data={"wait": "30"}, HTTP_IF_NONE_MATCH='"old"')

    assert response.status_code == 200
    assert time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_a_wait_ends_in_304_when_nothing_changes(client, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(issue_token(contributor))
    etag = _lookup(client, headers)["ETag"]
    started = time.monotonic()

    response = _lookup(client, headers, data={"wait": "1"}, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert 1 <= time.monotonic() - started < 4


@pytest.mark.django_db(transaction=True)
def test_a_waiting_watcher_is_answered_as_soon_as_production_changes(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    headers = bearer(issue_token(contributor))
    etag = _lookup(client, headers)["ETag"]
    thread, outcome = _lookup_in_thread(headers, data={"wait": "20"}, HTTP_IF_NONE_MATCH=etag)
    time.sleep(0.5)
    assert thread.is_alive()  # waiting

    promoted_at = time.monotonic()
    version_move(second, Stage.PRODUCTION, actor=contributor)
    thread.join(timeout=10)

    assert outcome["response"].status_code == 200
    assert outcome["response"].json()["id"] == "fraud-scorer/v2"
    # With the feed, at once; without one (SQLite), within a poll.
    assert time.monotonic() - promoted_at < (0.5 if connection.vendor == "postgresql" else 2.5)


@pytest.mark.django_db(transaction=True)
def test_a_token_revoked_during_a_wait_is_refused_when_the_wait_answers(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    issued = issue_token(contributor)
    headers = bearer(issued)
    etag = _lookup(client, headers)["ETag"]
    thread, outcome = _lookup_in_thread(headers, data={"wait": "20"}, HTTP_IF_NONE_MATCH=etag)
    time.sleep(0.5)

    api_token_revoke(actor=contributor, token=issued.token)
    version_move(second, Stage.PRODUCTION, actor=contributor)
    thread.join(timeout=10)

    assert outcome["response"].status_code == 401  # not told of what was promoted after the revocation


@pytest.mark.django_db(transaction=True)
def test_past_four_waiting_in_one_process_the_next_is_told_to_ask_again(
    client, contract, model, version, contributor
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    headers = bearer(issue_token(contributor))
    etag = _lookup(client, headers)["ETag"]
    waiting = [_lookup_in_thread(headers, data={"wait": "20"}, HTTP_IF_NONE_MATCH=etag) for _ in range(4)]
    time.sleep(0.5)

    fifth = _lookup(client, headers, data={"wait": "20"}, HTTP_IF_NONE_MATCH=etag)
    version_move(second, Stage.PRODUCTION, actor=contributor)
    for thread, _ in waiting:
        thread.join(timeout=10)

    assert contract.check(fifth, PRODUCTION, "get")["error"]["code"] == "too_many_waiting"
    assert fifth["Retry-After"] == "1"
    assert [outcome["response"].json()["id"] for _, outcome in waiting] == ["fraud-scorer/v2"] * 4


@pytest.mark.django_db(transaction=True)
def test_a_watcher_waiting_for_a_first_production_version_gets_it(client, model, version, contributor):
    version_move(version, Stage.STAGING, actor=contributor)
    headers = bearer(issue_token(contributor))
    assert _lookup(client, headers).status_code == 404
    thread, outcome = _lookup_in_thread(headers, data={"wait": "20"})
    time.sleep(0.5)
    assert thread.is_alive()

    version_move(version, Stage.PRODUCTION, actor=contributor)
    thread.join(timeout=10)

    assert outcome["response"].json()["id"] == "fraud-scorer/v1"
