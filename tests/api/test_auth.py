"""Who is calling: a bearer token, or a signed-in session; anything else is a 401 that says how to fix it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.support import API, bearer, issue_token, post_json, written
from tests.factories import evidence_payload
from warehouse import clock
from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import api_token_create, api_token_revoke
from warehouse.audit.models import AuditEvent

MODEL = "/models/{name}"
VERSIONS = "/models/{name}/versions"


def _assert_unauthenticated(response, contract, path: str, method: str) -> None:
    assert response.status_code == 401, response.content
    assert contract.check(response, path, method)["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="warehouse"'


def test_no_credentials_is_401_with_www_authenticate(client, contract, model):
    _assert_unauthenticated(client.get(f"{API}/models/fraud-scorer"), contract, MODEL, "get")


def test_no_credentials_on_register_is_401_and_writes_nothing(client, contract, model):
    before = written()
    response = post_json(client, "/models/fraud-scorer/versions", evidence_payload())
    _assert_unauthenticated(response, contract, VERSIONS, "post")
    assert written() == before


@pytest.mark.parametrize(
    "header",
    [
        "Token {secret}",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer{secret}",
        "{secret}",
        "bearer: {secret}",
    ],
    ids=["token-scheme", "basic", "bearer-alone", "bearer-blank", "no-space", "bare-secret", "colon"],
)
def test_a_malformed_authorization_header_is_401(client, contract, model, contributor, header):
    secret = issue_token(contributor).secret
    response = client.get(f"{API}/models/fraud-scorer", HTTP_AUTHORIZATION=header.format(secret=secret))
    _assert_unauthenticated(response, contract, MODEL, "get")


def test_the_scheme_is_case_insensitive(client, model, contributor):
    secret = issue_token(contributor).secret
    assert client.get(f"{API}/models/fraud-scorer", HTTP_AUTHORIZATION=f"bearer {secret}").status_code == 200


@pytest.mark.parametrize(
    "secret",
    ["wh_deadbeef_" + "x" * 43, "not-a-warehouse-token", "wh_" + "a" * 300],
    ids=["unknown", "foreign", "too-long"],
)
def test_an_unknown_token_is_401(client, contract, model, secret):
    response = client.get(f"{API}/models/fraud-scorer", HTTP_AUTHORIZATION=f"Bearer {secret}")
    _assert_unauthenticated(response, contract, MODEL, "get")


def test_a_token_with_one_character_changed_is_401(client, contract, model, contributor):
    secret = issue_token(contributor).secret
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    response = client.get(f"{API}/models/fraud-scorer", HTTP_AUTHORIZATION=f"Bearer {tampered}")
    _assert_unauthenticated(response, contract, MODEL, "get")


def test_a_revoked_token_is_401(client, contract, model, contributor):
    issued = issue_token(contributor)
    assert client.get(f"{API}/models/fraud-scorer", **bearer(issued)).status_code == 200
    api_token_revoke(actor=contributor, token=issued.token)

    before = written()
    response = post_json(client, "/models/fraud-scorer/versions", evidence_payload(), **bearer(issued))

    _assert_unauthenticated(response, contract, VERSIONS, "post")
    # Nothing written but the refusal, naming the token it came with (tests/accounts/test_token_throttling).
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert (refusal.action, refusal.target_id) == ("api_token.refused", str(issued.token.pk))


def test_an_expired_token_is_401(client, contract, model, contributor):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    with clock.frozen_at(an_hour_ago - timedelta(days=1)):
        issued = api_token_create(actor=contributor, user=contributor, name="old CI", expires_at=an_hour_ago)

    response = client.get(f"{API}/models/fraud-scorer", **bearer(issued))

    _assert_unauthenticated(response, contract, MODEL, "get")


def test_a_token_not_yet_expired_works(client, model, contributor):
    issued = api_token_create(
        actor=contributor, user=contributor, name="CI", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert client.get(f"{API}/models/fraud-scorer", **bearer(issued)).status_code == 200


def test_the_token_of_a_deactivated_person_is_401(client, contract, model, contributor):
    issued = issue_token(contributor)
    contributor.is_active = False
    contributor.save(update_fields=["is_active"])

    response = client.get(f"{API}/models/fraud-scorer", **bearer(issued))

    _assert_unauthenticated(response, contract, MODEL, "get")


def test_a_used_token_records_when(client, model, contributor):
    issued = issue_token(contributor)
    client.get(f"{API}/models/fraud-scorer", **bearer(issued))
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_a_bad_token_is_not_rescued_by_a_session(client, contract, model, contributor):
    # A caller that sends a token means that token: a wrong one is refused even with a valid session.
    client.force_login(contributor)
    response = client.get(f"{API}/models/fraud-scorer", HTTP_AUTHORIZATION="Bearer wh_nope")
    _assert_unauthenticated(response, contract, MODEL, "get")
