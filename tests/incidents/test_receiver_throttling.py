"""Wrong tokens at an alert receiver's hook: each refusal on the audit trail, and after TOKEN_FAILURE_LIMIT of
them from one address at one receiver, that address is refused there (429) for a while, right token or
not; other receivers, other addresses and the API are not affected (accounts/token_throttle.py)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command

from tests.api.support import API, bearer
from tests.incidents.conftest import ALERTMANAGER_FIRING, example_bytes, post_alerts
from warehouse.audit.models import AuditEvent
from warehouse.incidents.models import AlertPayload
from warehouse.incidents.services import receiver_create

LIMIT = 3
ADDRESS = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
BODY = example_bytes(ALERTMANAGER_FIRING)


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.TOKEN_FAILURE_LIMIT = LIMIT


def deliver(token, *, address: str = ADDRESS, receiver: str = "prod-alerts"):
    return post_alerts("alertmanager", BODY, token=token, receiver=receiver, REMOTE_ADDR=address)


def lock_out(token: str, *, receiver: str = "prod-alerts") -> None:
    wrong = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    answers = [deliver(wrong, receiver=receiver).status_code for _ in range(LIMIT)]
    assert answers == [401] * (LIMIT - 1) + [429]


def assert_locked_out(response) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(15 * 60)
    assert response.json()["error"]["code"] == "locked_out"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_each_refused_delivery_is_on_the_record_naming_the_receiver(receiver, token):
    assert deliver(token[:-2] + "xx").status_code == 401
    assert deliver(None, receiver="no-such-receiver").status_code == 401

    wrong, unknown = events("alert_receiver.refused")
    assert (wrong.target_type, wrong.target_id, wrong.target_label) == (
        "incidents.alertreceiver",
        str(receiver.pk),
        "prod-alerts",
    )
    assert wrong.data == {"address": ADDRESS, "receiver": "prod-alerts", "prefix": receiver.token_prefix}
    assert (unknown.target_id, unknown.target_label) == ("", "no-such-receiver")
    assert unknown.data == {"address": ADDRESS, "receiver": "no-such-receiver", "prefix": None}


def test_after_the_limit_the_address_is_refused_even_the_right_token(receiver, token):
    lock_out(token)

    assert_locked_out(deliver(token))

    assert not AlertPayload.objects.exists()
    assert len(events("alert_receiver.refused")) == LIMIT
    [lockout] = events("alert_receiver.locked_out")
    assert lockout.target_label == "prod-alerts"
    assert lockout.data == {
        "address": ADDRESS,
        "receiver": "prod-alerts",
        "failures_allowed": LIMIT,
        "locked_for_seconds": 15 * 60,
    }


def test_tries_while_locked_out_neither_count_nor_flood_the_trail(receiver, token):
    lock_out(token)
    for _ in range(5):
        assert_locked_out(deliver(token))
        assert_locked_out(deliver("whr_wrong"))

    assert len(events("alert_receiver.refused")) == LIMIT
    assert len(events("alert_receiver.locked_out")) == 1


def test_another_address_other_receivers_and_the_api_are_not_affected(
    client, receiver, token, superuser, model, contributor
):
    _, other_token = receiver_create(actor=superuser, name="staging-alerts")
    lock_out(token)

    assert deliver(token, address=ELSEWHERE).status_code == 200
    assert deliver(other_token, receiver="staging-alerts").status_code == 200
    assert client.get(f"{API}/models", REMOTE_ADDR=ADDRESS, **bearer(contributor)).status_code == 200


def test_the_lockout_ends_by_itself(receiver, token):
    lock_out(token)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    assert deliver(token).status_code == 200


def test_an_admin_lifts_it_with_the_documented_command(receiver, token):
    lock_out(token)

    call_command("axes_reset_ip", ADDRESS)  # README: Signing in and lockouts

    assert deliver(token).status_code == 200
