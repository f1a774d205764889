"""The API's remembered list pages (api/remembered.py) as the production tier serves them, with real
processes: nginx in front of two gunicorn processes on the test database, each remembering pages.

- A version registered through the tier, or committed by another process (this one), is in every
  process's list within a moment (the time PostgreSQL takes to deliver its notification), and from then
  on. The process that answered the write has heard it before answering (tests/api/test_remembered_lists.py).
- Every database connection broken, and a version registered before any is back: every list from then on
  shows it (the feeds start a new session, in which nothing remembered before counts).

These hold the tier to answers that are never stale; that pages are remembered at all is held in
tests/api/test_remembered_lists.py, which counts queries.
"""

import time

import pytest
from django.db import connection

from tests.api.support import issue_token
from tests.factories import evidence_payload, version_register_for_tests
from tests.web.test_serving_faults import call

pytestmark = [pytest.mark.webtier, pytest.mark.postgres]

LIST = "/api/v1/models"
ASKED = 20  # requests after each change: both processes answer some, whatever nginx's order


@pytest.fixture
def tier(shared_web_tier):
    return shared_web_tier(workers=2, threads=4)


def version_counts(tier, token: str) -> int:
    answer = call(tier, LIST, token=token)
    assert answer.status == 200, answer.body
    return answer.body["results"][0]["version_count"]


def remembered_everywhere(tier, token: str, expected: int) -> None:
    for _ in range(ASKED):
        assert version_counts(tier, token) == expected


def test_a_version_registered_through_the_tier_is_in_every_list_within_a_moment(tier, model, contributor):
    token = issue_token(contributor).secret
    remembered_everywhere(tier, token, 1)

    registered = call(
        tier, f"{LIST}/{model.name}/versions", token=token, method="POST", body=evidence_payload()
    )

    assert registered.status == 201, registered.body
    counted_within_a_moment(tier, token, 2)


def counted_within_a_moment(tier, token: str, expected: int) -> None:
    started = time.monotonic()
    while version_counts(tier, token) != expected:
        assert time.monotonic() - started < 2.0, f"the tier still does not list {expected} versions after 2 s"
    assert [version_counts(tier, token) for _ in range(ASKED)] == [expected] * ASKED


def test_a_version_registered_elsewhere_is_in_every_list_within_a_moment(tier, model, contributor):
    token = issue_token(contributor).secret
    # Asked again once the news of this test's own setup (and of the last test's emptying) has surely been
    # delivered: otherwise that news, arriving late, would refresh the pages and the test would hold nothing.
    remembered_everywhere(tier, token, 1)
    time.sleep(0.5)
    remembered_everywhere(tier, token, 1)

    version_register_for_tests(actor=contributor, model=model)

    counted_within_a_moment(tier, token, 2)


def test_with_every_database_connection_broken_the_next_lists_are_right(tier, model, contributor):
    token = issue_token(contributor).secret
    remembered_everywhere(tier, token, 1)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    version_register_for_tests(actor=contributor, model=model)

    assert terminated >= 2  # at least a web server's pool and its change feed
    assert [version_counts(tier, token) for _ in range(ASKED)] == [2] * ASKED
