"""API tokens: made and shown once, stored only as a SHA-256 digest, refused once revoked or expired."""

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from warehouse import clock
from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import (
    LAST_USED_RESOLUTION,
    TOKEN_PREFIX,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from warehouse.audit.models import AuditEvent
from warehouse.errors import InvalidInput


@pytest.fixture
def issued(contributor):
    return api_token_create(actor=contributor, user=contributor, name="payments CI")


def test_it_stores_only_a_digest_of_the_secret(issued):
    stored = ApiToken.objects.get(pk=issued.token.pk)

    assert stored.digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    row = ApiToken.objects.filter(pk=stored.pk).values().get()
    assert not any(isinstance(value, str) and issued.secret in value for value in row.values())
    assert not any(issued.secret in str(event.data) for event in AuditEvent.objects.all())


def test_it_shows_the_secret_once_in_a_recognisable_shape(issued):
    assert issued.secret.startswith(f"{TOKEN_PREFIX}{issued.token.prefix}_")
    assert len(issued.secret) > 40
    assert not hasattr(ApiToken.objects.get(pk=issued.token.pk), "secret")


def test_it_makes_a_different_secret_each_time(contributor):
    secrets = {api_token_create(actor=contributor, user=contributor, name=f"ci {n}").secret for n in range(5)}

    assert len(secrets) == 5


def test_it_authenticates_with_the_secret(issued, contributor):
    token = api_token_authenticate(issued.secret)

    assert token.pk == issued.token.pk
    assert token.user == contributor


def test_it_notes_when_a_token_was_last_used_at_most_once_a_minute(issued):
    api_token_authenticate(issued.secret)
    first_use = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    api_token_authenticate(issued.secret)

    assert first_use is not None
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first_use
    with clock.frozen_at(first_use + LAST_USED_RESOLUTION + timedelta(seconds=1)):
        api_token_authenticate(issued.secret)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > first_use


@pytest.mark.parametrize("secret", ["", "wh_", "Bearer x", "not-a-token", "wh_" + "a" * 300])
def test_it_refuses_secrets_it_never_made(db, secret):
    assert api_token_authenticate(secret) is None


def test_it_refuses_a_secret_that_is_almost_right(issued):
    assert api_token_authenticate(issued.secret[:-1]) is None
    assert api_token_authenticate(issued.secret + "x") is None
    assert api_token_authenticate(issued.secret.upper()) is None


def test_it_refuses_a_revoked_token_on_the_record(issued, contributor):
    api_token_revoke(actor=contributor, token=issued.token)

    assert api_token_authenticate(issued.secret) is None
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert (event.actor_id, event.data) == (contributor.pk, {"prefix": issued.token.prefix})


def test_it_revokes_once(issued, contributor):
    first = api_token_revoke(actor=contributor, token=issued.token)
    again = api_token_revoke(actor=contributor, token=issued.token)

    assert again.revoked_at == first.revoked_at
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_it_refuses_an_expired_token(contributor):
    now = clock.now()
    issued = api_token_create(
        actor=contributor, user=contributor, name="nightly", expires_at=now + timedelta(hours=1)
    )

    assert api_token_authenticate(issued.secret) is not None
    with clock.frozen_at(now + timedelta(hours=1)):
        assert api_token_authenticate(issued.secret) is None


def test_it_refuses_the_token_of_a_deactivated_person(issued, contributor):
    contributor.is_active = False
    contributor.save()

    assert api_token_authenticate(issued.secret) is None


def test_it_records_who_made_a_token(issued, contributor):
    event = AuditEvent.objects.get(action="api_token.created")

    assert event.actor_id == contributor.pk
    assert event.data == {
        "user": "carol",
        "name": "payments CI",
        "prefix": issued.token.prefix,
        "expires_at": None,
    }


@pytest.mark.parametrize(
    ("name", "expires_in", "field"),
    [
        ("", None, "name"),
        ("   ", None, "name"),
        ("x" * 101, None, "name"),
        ("ci", timedelta(seconds=-1), "expires_at"),
        ("ci", timedelta(0), "expires_at"),
    ],
)
def test_it_refuses_a_token_that_cannot_be(contributor, name, expires_in, field):
    expires_at = clock.now() + expires_in if expires_in is not None else None

    with pytest.raises(InvalidInput) as refused:
        api_token_create(actor=contributor, user=contributor, name=name, expires_at=expires_at)

    assert list(refused.value.errors) == [field]
    assert not ApiToken.objects.exists()


def test_it_makes_tokens_only_for_oneself(contributor, viewer):
    with pytest.raises(PermissionDenied):
        api_token_create(actor=contributor, user=viewer, name="someone else's")
    with pytest.raises(PermissionDenied):
        api_token_revoke(
            actor=viewer, token=api_token_create(actor=contributor, user=contributor, name="ci").token
        )

    assert not ApiToken.objects.filter(user=viewer).exists()
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    refusals = AuditEvent.objects.filter(action="permission.denied").order_by("sequence")
    assert [event.actor for event in refusals] == [contributor, viewer]


def test_it_lets_a_superuser_make_and_revoke_a_token_for_someone(superuser, viewer):
    issued = api_token_create(actor=superuser, user=viewer, name="dashboards")
    assert api_token_authenticate(issued.secret).user == viewer

    api_token_revoke(actor=superuser, token=issued.token)
    assert api_token_authenticate(issued.secret) is None


# --- The command ----------------------------------------------------------------------------------------


def test_the_command_prints_a_working_token(contributor):
    out = io.StringIO()

    call_command("create_api_token", "carol", "--name", "payments CI", stdout=out)

    secret = out.getvalue().strip()
    token = api_token_authenticate(secret)
    assert token is not None and token.user == contributor and token.name == "payments CI"
    assert AuditEvent.objects.get(action="api_token.created").via == "command"


def test_the_command_refuses_an_unknown_person(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody", stdout=io.StringIO())

    assert not ApiToken.objects.exists()
