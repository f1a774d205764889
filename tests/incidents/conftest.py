"""Receivers with their tokens, the example payloads, and a way to post them through the real hooks."""

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from warehouse.incidents.services import receiver_create

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
