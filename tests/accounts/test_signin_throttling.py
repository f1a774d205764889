"""Guessing passwords: after SIGNIN_FAILURE_LIMIT wrong ones for an account or from an address, sign-in is
paused for that account or address (django-axes), and every failure and lockout is on the audit trail."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from warehouse.audit.models import AuditEvent

PASSWORD = "right-password-1"
LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.SIGNIN_FAILURE_LIMIT = LIMIT


@pytest.fixture
def carol(db):
    return User.objects.create_user("carol", "carol@example.com", PASSWORD)


def sign_in(client, username, password, address="198.51.100.7", **headers):
    return client.post(
        reverse("accounts:sign-in"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **headers,
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response.url == reverse("home")


def test_the_right_password_signs_in(client, carol):
    assert signed_in(sign_in(client, "carol", PASSWORD))
    assert not AuditEvent.objects.filter(action__startswith="signin.").exists()


def test_each_wrong_password_is_on_the_record_with_who_and_where(client, carol):
    response = sign_in(client, "carol", "guess-1")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    [event] = AuditEvent.objects.filter(action="signin.failed")
    assert (event.actor_id, event.actor_label, event.target_label) == (None, "anonymous", "carol")
    assert event.data == {"username": "carol", "address": "198.51.100.7"}


def test_an_account_is_paused_after_the_limit_even_for_the_right_password(client, carol):
    for attempt in range(LIMIT):
        sign_in(client, "carol", f"guess-{attempt}")

    response = sign_in(client, "carol", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    page = response.content.decode()
    assert "Sign-in paused" in page and "for up to 15 minutes" in page and "carol" in page
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="signin.failed").count() == LIMIT
    [lockout] = AuditEvent.objects.filter(action="signin.locked_out")
    assert lockout.data == {
        "username": "carol",
        "address": "198.51.100.7",
        "failures_allowed": LIMIT,
        "locked_for_seconds": 15 * 60,
    }


def test_the_pause_holds_for_the_account_from_another_address(client, carol):
    for attempt in range(LIMIT):
        sign_in(client, "carol", f"guess-{attempt}", address="198.51.100.7")

    assert sign_in(client, "carol", PASSWORD, address="203.0.113.9").status_code == 429


def test_an_address_guessing_across_accounts_is_paused_for_every_account(client, carol):
    for attempt in range(LIMIT):
        sign_in(client, f"someone-{attempt}", "guess", address="192.0.2.66")

    assert sign_in(client, "carol", PASSWORD, address="192.0.2.66").status_code == 429
    assert signed_in(sign_in(client, "carol", PASSWORD, address="198.51.100.7"))


def test_tries_during_the_pause_neither_extend_it_nor_flood_the_trail(client, carol):
    for attempt in range(LIMIT + 5):
        sign_in(client, "carol", f"guess-{attempt}")

    assert AuditEvent.objects.filter(action="signin.failed").count() == LIMIT
    assert AuditEvent.objects.filter(action="signin.locked_out").count() == 1


def test_the_pause_ends_by_itself(client, carol):
    for attempt in range(LIMIT):
        sign_in(client, "carol", f"guess-{attempt}")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    assert signed_in(sign_in(client, "carol", PASSWORD))


def test_an_admin_lifts_the_pause(client, carol):
    for attempt in range(LIMIT):
        sign_in(client, "carol", f"guess-{attempt}")

    call_command("axes_reset_username", "carol")

    assert signed_in(sign_in(client, "carol", PASSWORD))


def test_a_success_before_the_limit_starts_the_count_again(client, carol):
    for attempt in range(LIMIT - 1):
        sign_in(client, "carol", f"guess-{attempt}")
    assert signed_in(sign_in(client, "carol", PASSWORD))
    client.post(reverse("accounts:sign-out"))

    for attempt in range(LIMIT - 1):
        sign_in(client, "carol", f"guess-again-{attempt}")
    assert signed_in(sign_in(client, "carol", PASSWORD))


def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(client, carol, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client's own X-Forwarded-For entry comes first; nginx appends the address it was connected from.
    sign_in(client, "carol", "guess", address="10.0.0.2", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.50")

    [event] = AuditEvent.objects.filter(action="signin.failed")
    assert event.data["address"] == "203.0.113.50"


def test_without_a_trusted_proxy_a_forwarded_address_is_not_believed(client, carol):
    sign_in(client, "carol", "guess", address="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.50")

    [event] = AuditEvent.objects.filter(action="signin.failed")
    assert event.data["address"] == "198.51.100.7"


@pytest.mark.parametrize("username", ["car\x00ol", "c" * 5000, "[api-token]", "[alert-receiver:prod]"])
def test_a_name_no_account_can_have_is_refused_before_any_password_is_checked(client, carol, username):
    response = sign_in(client, username, "guess")

    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not AuditEvent.objects.exists() and not AccessAttempt.objects.exists()


def test_bytes_that_are_no_text_are_read_as_a_wrong_name(client, carol):
    # A lone surrogate, as a form can only carry it: its UTF-8-like bytes, which Django reads as U+FFFD.
    response = client.post(
        reverse("accounts:sign-in"),
        "username=%ED%A0%80carol&password=guess",
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR="198.51.100.7",
    )

    assert response.status_code == 200
    [event] = AuditEvent.objects.filter(action="signin.failed")
    assert event.target_label.endswith("carol") and event.target_label.isprintable()
