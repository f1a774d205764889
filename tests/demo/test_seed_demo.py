"""`manage.py seed_demo`: the demo the README promises (warehouse/demo/data/), written through the services,
only with DEBUG on. Seeded once for the tests that read it (`seeded_demo`, tests/demo/conftest.py)."""

import io

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from warehouse.accounts.permissions import models_visible_to
from warehouse.audit.models import AuditEvent
from warehouse.demo.sign_ins import DEMO_PASSWORD, DEMO_USERS, TEAMS
from warehouse.registry.models import (
    ModelVersion,
    RegisteredModel,
    SliceMetric,
    Stage,
    StageTransition,
    TransitionKind,
)

TRACKED = "late-delivery-risk"
SCHEMES = {"s3", "gs", "abfss", "hdfs", "https"}


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._base_manager.count() for model in apps.get_models(include_auto_created=True)
    }


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_it_seeds_five_teams_six_models_with_a_history(seeded_demo, db):
    models = {model.name: model for model in RegisteredModel.objects.select_related("team")}
    assert set(models) == {
        "fraud-scorer",
        "search-ranker",
        "chest-xray-assist",
        "support-copilot",
        "demand-forecast",
        TRACKED,
    }
    assert {model.team.name for model in models.values()} == set(TEAMS)
    for model in models.values():
        assert 4 <= model.versions.count() <= 8 or model.name == TRACKED, model.name
    # The model from tracked runs: two candidates, both in Draft (tests/demo/test_tracked_runs.py).
    assert models[TRACKED].versions.count() == 2
    assert set(ModelVersion.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert StageTransition.objects.filter(kind=TransitionKind.ROLLBACK).exists()
    assert StageTransition.objects.filter(kind=TransitionKind.REPLACED).exists()
    # Every production version replaced another: an incident has somewhere to roll back to.
    production = ModelVersion.objects.filter(stage=Stage.PRODUCTION).select_related("rollback_target")
    assert production.count() == 5
    for version in production:
        assert version.rollback_target is not None, version.identifier
        assert version.rollback_target.stage == Stage.ARCHIVED


def test_every_version_has_full_evidence_and_some_slices_regress(seeded_demo, db):
    for version in ModelVersion.objects.select_related("model", "evaluation", "source_run", "profile"):
        slices = SliceMetric.objects.filter(report=version.evaluation).values_list("slice_key", flat=True)
        assert len(set(slices)) >= 20, version.identifier
        assert len(version.source_run.git_commit) == 40
        assert version.profile.latency_p95_ms > 0
        assert version.card.current.sections["task"]
        # The tracked model's files and run are on the tracking server they were logged to.
        tracked = version.model.name == TRACKED
        assert version.source_run.url.startswith("http://127.0.0.1:" if tracked else "https://")
        for artifact in version.artifacts.all():
            assert artifact.uri.split(":")[0] in ({"mlflow-artifacts"} if tracked else SCHEMES)
            assert len(artifact.sha256) == 64
    fraud = ModelVersion.objects.get(model__name="fraud-scorer", number=1)
    assert {"auc", "precision@0.85", "recall@0.85", "false_positive_rate"} == set(
        fraud.evaluation.metrics.values_list("name", flat=True)
    )
    # Some slices regress between versions, so the comparison with production has something to show.
    before = ModelVersion.objects.get(model__name="fraud-scorer", number=3).evaluation.slices
    after = ModelVersion.objects.get(model__name="fraud-scorer", number=4).evaluation.slices
    travel = {"slice_key": "merchant_category=travel", "metric": "recall@0.85"}
    assert after.get(**travel).value < before.get(**travel).value


def test_the_audit_chain_records_it_all_and_verifies(seeded_demo, db):
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"model.created", "version.registered", "version.stage_changed", "card.revised"} <= actions
    # The demo shows refused attempts on the record too.
    assert {"permission.denied", "version.stage_change_refused"} <= actions
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "Audit chain intact" in out.getvalue()


def test_each_role_can_sign_in_and_sees_every_model(seeded_demo, db, client):
    output = seeded_demo

    for demo in DEMO_USERS:
        assert demo.username in output
        user = User.objects.get(username=demo.username)
        assert client.login(username=demo.username, password=DEMO_PASSWORD), demo.username
        assert models_visible_to(user, RegisteredModel.objects.all()).count() == 6
        if demo.role is not None:
            assert user.groups.filter(name=demo.role.value).exists()
            assert set(user.groups.filter(name__in=TEAMS).values_list("name", flat=True)) == set(TEAMS)
    assert User.objects.get(username="admin").is_superuser


def test_a_second_run_changes_nothing(seeded_demo, db, debug):
    counts = row_counts()
    head = AuditEvent.objects.order_by("-sequence").values_list("hash", flat=True).first()

    output = seed()

    assert "nothing changed" in output
    assert row_counts() == counts
    assert AuditEvent.objects.order_by("-sequence").values_list("hash", flat=True).first() == head


def test_it_refuses_with_debug_off(db, settings):
    settings.DEBUG = False
    # Whether or not this module's seeded demo is there (it is, once a test above asked for it), the
    # refusal writes nothing: not a row of any table.
    counts = row_counts()

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO())

    assert row_counts() == counts


def test_it_leaves_work_in_the_reviewers_queue(seeded_demo, db):
    from django.contrib.auth.models import User

    from warehouse.promotions.models import PromotionRequest, RequestState
    from warehouse.promotions.requests.queue import review_queue

    waiting = PromotionRequest.objects.filter(state=RequestState.AWAITING_SIGNOFF)
    assert waiting.count() == 2, list(PromotionRequest.objects.values_list("state", "gate_run__error"))
    assert {promotion.target_stage for promotion in waiting} == {Stage.STAGING}
    assert len(review_queue(user=User.objects.get(username="reviewer")).awaiting_me) == 2


def test_it_opens_with_a_firing_alert_about_the_production_version(seeded_demo, db, client):
    from django.urls import reverse

    from warehouse.incidents.models import Incident, IncidentStatus

    output = seeded_demo
    incident = Incident.objects.get()
    production = incident.model.versions.get(stage=Stage.PRODUCTION)
    assert incident.status == IncidentStatus.FIRING and incident.version == production
    assert "/go/fraud-scorer" in output and "token (shown once): whr_" in output
    client.login(username="responder", password=DEMO_PASSWORD)
    page = client.get(reverse("incidents:go", args=["fraud-scorer"])).content.decode()
    assert "ModelPredictionDrift" in page and "Roll back to v" in page
