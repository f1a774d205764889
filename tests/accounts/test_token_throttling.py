"""Wrong API tokens: after TOKEN_FAILURE_LIMIT of them from one address, that address's tokens are refused,
right or wrong, for a while (django-axes, accounts/token_throttle.py), on /api/v1 and on the production
lookup alike; every refusal and each lockout is on the audit trail, and an admin lifts it with axes_reset_ip.
The alert receivers' hooks: tests/incidents/test_receiver_throttling.py; the watch server:
tests/web/test_watchers.py."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.api.support import API, issue_token
from tests.factories import version_move
from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import api_token_revoke
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import Stage

LIMIT = 3
ADDRESS = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
WRONG = "wh_0badc0de_" + "x" * 43
LOOKUP = "/models/fraud-scorer/production"


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.TOKEN_FAILURE_LIMIT = LIMIT


@pytest.fixture
def secret(contributor):
    return issue_token(contributor).secret


def call(client, token: str, address: str = ADDRESS, path: str = "/models", **extra):
    return client.get(f"{API}{path}", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address, **extra)


def lock_out(client, address: str = ADDRESS, path: str = "/models") -> None:
    answers = [call(client, WRONG, address, path).status_code for _ in range(LIMIT)]
    # The wrong token that reaches the limit is already told to stop.
    assert answers == [401] * (LIMIT - 1) + [429]


def assert_locked_out(response) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(15 * 60)
    error = response.json()["error"]
    assert error["code"] == "locked_out"
    assert "up to 15 minutes" in error["message"]


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


# --- /api/v1 ------------------------------------------------------------------------------------------------


def test_each_wrong_token_is_on_the_record_with_where_it_came_from(client, model):
    response = call(client, WRONG)

    assert response.status_code == 401
    [event] = events("api_token.refused")
    assert (event.actor_id, event.actor_label, event.target_label) == (None, "anonymous", "wh_0badc0de…")
    assert event.data == {"address": ADDRESS, "prefix": "0badc0de"}


def test_a_revoked_token_still_in_use_is_named_on_the_record(client, model, contributor):
    issued = issue_token(contributor, name="payments CI")
    api_token_revoke(actor=contributor, token=issued.token)

    assert call(client, issued.secret).status_code == 401

    [event] = events("api_token.refused")
    assert (event.target_type, event.target_id) == ("accounts.apitoken", str(issued.token.pk))
    assert event.target_label == f"carol: payments CI ({issued.token.prefix}…)"


def test_a_secret_of_no_token_shape_is_recorded_without_a_prefix(client, model):
    assert call(client, "not-a-warehouse-token").status_code == 401

    [event] = events("api_token.refused")
    assert (event.target_label, event.data) == ("", {"address": ADDRESS, "prefix": None})


def test_after_the_limit_the_address_is_refused_even_a_good_token(client, model, secret):
    lock_out(client)

    assert_locked_out(call(client, secret))
    assert len(events("api_token.refused")) == LIMIT
    [lockout] = events("api_token.locked_out")
    assert lockout.target_label == ADDRESS
    assert lockout.data == {"address": ADDRESS, "failures_allowed": LIMIT, "locked_for_seconds": 15 * 60}


def test_the_readme_shows_the_answer_as_it_is(client, model, secret):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [shown] = [line for line in readme.splitlines() if line.startswith('{"error": {"code": "locked_out"')]
    lock_out(client)

    assert call(client, secret).json() == json.loads(shown)


def test_a_token_from_a_locked_out_address_is_not_even_looked_at(client, model, contributor):
    issued = issue_token(contributor)
    lock_out(client)

    assert_locked_out(call(client, issued.secret))

    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is None


def test_another_address_is_not_affected(client, model, secret):
    lock_out(client)

    assert call(client, secret, address=ELSEWHERE).status_code == 200


def test_tries_while_locked_out_neither_count_nor_flood_the_trail(client, model, secret):
    lock_out(client)
    for _ in range(5):
        assert_locked_out(call(client, WRONG))
        assert_locked_out(call(client, secret))

    assert len(events("api_token.refused")) == LIMIT
    assert len(events("api_token.locked_out")) == 1
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == LIMIT


def test_the_lockout_ends_by_itself(client, model, secret):
    lock_out(client)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    assert call(client, secret).status_code == 200


def test_an_admin_lifts_it_with_the_documented_command(client, model, secret):
    lock_out(client)

    call_command("axes_reset_ip", ADDRESS)  # README: Signing in and lockouts

    assert call(client, secret).status_code == 200
    # And the count starts again: one wrong token is a 401 again, not a lockout.
    assert call(client, WRONG).status_code == 401


def test_a_session_caller_from_that_address_is_not_locked_out(client, model, contributor):
    lock_out(client)
    client.force_login(contributor)

    assert client.get(f"{API}/models", REMOTE_ADDR=ADDRESS).status_code == 200


def test_a_malformed_header_is_a_401_that_is_not_counted(client, model):
    for _ in range(LIMIT + 1):
        response = client.get(f"{API}/models", HTTP_AUTHORIZATION="Token abc", REMOTE_ADDR=ADDRESS)
        assert response.status_code == 401

    assert not AccessAttempt.objects.exists() and not events("api_token.refused")


def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(client, model, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    call(client, WRONG, address="10.0.0.2", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.50")

    assert events("api_token.refused")[0].data["address"] == "203.0.113.50"


# --- Apart from signing in -------------------------------------------------------------------------------


def sign_in(client, password: str, address: str = ADDRESS):
    return client.post(
        reverse("accounts:sign-in"), {"username": "carol", "password": password}, REMOTE_ADDR=address
    )


def test_wrong_tokens_do_not_lock_the_address_out_of_signing_in(client, model, contributor, settings):
    settings.SIGNIN_FAILURE_LIMIT = LIMIT
    contributor.set_password("right-password-1")
    contributor.save()
    lock_out(client)

    assert sign_in(client, "right-password-1").status_code == 302
    assert not events("signin.locked_out")


def test_wrong_passwords_do_not_lock_the_address_out_of_its_tokens(client, model, secret, settings):
    settings.SIGNIN_FAILURE_LIMIT = LIMIT
    User.objects.create_user("dora", "dora@example.com", "another-password-1")
    for attempt in range(LIMIT):
        client.post(
            reverse("accounts:sign-in"),
            {"username": f"someone-{attempt}", "password": "x"},
            REMOTE_ADDR=ADDRESS,
        )
    assert sign_in(client, "whatever").status_code == 429  # the address is paused for signing in

    assert call(client, secret).status_code == 200


def test_signing_in_does_not_lift_a_token_lockout(client, model, contributor, secret):
    contributor.set_password("right-password-1")
    contributor.save()
    lock_out(client)

    assert sign_in(client, "right-password-1").status_code == 302

    assert_locked_out(call(client, secret))


# --- The production lookup ------------------------------------------------------------------------------


def test_the_production_lookup_counts_and_refuses_alike(client, contract, version, contributor, secret):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert call(client, secret, path=LOOKUP).status_code == 200

    lock_out(client, path=LOOKUP)

    locked = call(client, secret, path=LOOKUP)
    assert_locked_out(locked)
    assert contract.check(locked, "/models/{name}/production", "get")["error"]["code"] == "locked_out"
    # One door for API tokens, whichever path they knock at.
    assert_locked_out(call(client, secret, path="/models"))
    assert len(events("api_token.refused")) == LIMIT and len(events("api_token.locked_out")) == 1
    assert call(client, secret, address=ELSEWHERE, path=LOOKUP).status_code == 200


def test_the_production_lookup_lets_the_address_in_again_when_an_admin_lifts_it(
    client, version, contributor, secret
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    lock_out(client, path=LOOKUP)

    call_command("axes_reset_ip", ADDRESS)

    assert call(client, secret, path=LOOKUP).status_code == 200


def _queries(call_it) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        response = call_it()
    return response, len(queries)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_warm_lookup_runs_no_query_while_another_address_is_locked_out(
    client, version, contributor, secret
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    lock_out(client, address=ELSEWHERE, path=LOOKUP)
    call(client, secret, path=LOOKUP)  # cold

    warm, queries = _queries(lambda: call(client, secret, path=LOOKUP))

    assert (warm.status_code, queries) == (200, 0)
    assert_locked_out(call(client, secret, address=ELSEWHERE, path=LOOKUP))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_once_lifted_the_address_is_warm_and_query_free_again(client, version, contributor, secret):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    lock_out(client, path=LOOKUP)
    call_command("axes_reset_ip", ADDRESS)
    assert call(client, secret, path=LOOKUP).status_code == 200  # asks axes once, and forgets the lockout

    warm, queries = _queries(lambda: call(client, secret, path=LOOKUP))

    assert (warm.status_code, queries) == (200, 0)
