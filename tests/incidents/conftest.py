"""Receivers with their tokens, the example payloads, and a way to post them through the real hooks."""

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from warehouse.incidents.services import receiver_create
from warehouse.registry.models import Stage

FIXTURES = Path(__file__).parent / "fixtures"
# A copy of ../shared/fixtures/alertmanager-v4-firing.json, so the tests run from the repository alone.
ALERTMANAGER_FIRING = "alertmanager-v4-firing.json"
GRAFANA_FIRING = "grafana-firing.json"
GRAFANA_RESOLVED = "grafana-resolved.json"


def example(name: str) -> dict:
    """A fresh copy of an example payload, to change at will."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text()))


def example_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def receiver_and_token(superuser):
    return receiver_create(actor=superuser, name="prod-alerts", description="Production Alertmanager")


@pytest.fixture
def receiver(receiver_and_token):
    return receiver_and_token[0]


@pytest.fixture
def token(receiver_and_token):
    return receiver_and_token[1]


def post_alerts(
    kind: str,
    body: bytes | dict,
    *,
    token: str | None,
    receiver: str = "prod-alerts",
    client: Client | None = None,
    **headers,
):
    """POST `body` to /hooks/<kind>/<receiver> as the alerting system would."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    if token is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    return (client or Client()).post(
        reverse(f"hooks:{kind}", args=[receiver]), data=data, content_type="application/json", **headers
    )


@pytest.fixture
def deliver(token) -> Callable:
    """deliver(kind, body, **options): post with the receiver's token."""

    def send(kind: str, body: bytes | dict, **options):
        options.setdefault("token", token)
        return post_alerts(kind, body, **options)

    return send


@pytest.fixture
def production_with_target(model, version, contributor):
    """fraud-scorer v1 was in production, v2 replaced it: v2 serves, v1 is its rollback target."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    replacement.refresh_from_db()
    assert replacement.rollback_target_id == version.pk
    return replacement, version
