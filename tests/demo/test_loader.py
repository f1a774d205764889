"""The demo's loader: the rules its data files may use, and steps it refuses to take as written."""

import hashlib
import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from warehouse.demo.evidence import fill, value
from warehouse.demo.loader import DemoDataError, Load, step_run
from warehouse.registry.models import ModelVersion, Stage

WHEN = datetime(2026, 3, 7, 9, 5, tzinfo=UTC)


def test_the_data_files_rules():
    context = {"number": 3, "when": WHEN}

    assert value("s3://models/v{number}/model.onnx", context) == "s3://models/v3/model.onnx"
    assert value("run-{when:%Y%m%d}-{number:02d}", context) == "run-20260307-03"
    assert (
        value({"sha256_of": "fraud:{number}:env", "length": 8}, context)
        == hashlib.sha256(b"fraud:3:env").hexdigest()[:8]
    )
    assert value({"sha1_of": "fraud:{number}"}, context) == hashlib.sha1(b"fraud:3").hexdigest()
    assert value({"base": 2400, "per_version": -60}, context) == 2220
    assert value({"base": 0.92, "per_version": -0.03, "format": ".2f"}, context) == "0.83"
    assert value(11.5, context) == 11.5
    with pytest.raises(ValueError, match="Not a rule"):
        value({"square_root_of": 2}, context)


def test_fill_leaves_braces_it_does_not_know():
    assert fill('{}:{alertname="Drift"} on {model}', {"model": "fraud-scorer"}) == (
        '{}:{alertname="Drift"} on fraud-scorer'
    )


def test_an_unknown_step_kind_is_named(db):
    with pytest.raises(DemoDataError, match="teleport"):
        step_run(Load(users={}, teams={}, models={}), {"do": "teleport", "model": "fraud-scorer"}, WHEN)


def test_a_refusal_the_services_allow_is_an_error(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    responder = User.objects.get(username="responder")
    load = Load(users={"responder": responder}, teams={}, models={})
    # v3 is fraud-scorer's rollback target: rolling back is allowed, so a step saying it is refused is wrong.
    step = {"do": "roll back", "model": "fraud-scorer", "version": 3, "by": "responder", "refused": True}

    with pytest.raises(DemoDataError, match="roll back v3 by responder was allowed"):
        step_run(load, {**step, "reason": "Drill."}, timezone.now())

    assert ModelVersion.objects.get(model__name="fraud-scorer", number=3).stage == Stage.PRODUCTION
