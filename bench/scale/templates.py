"""The scale bench's template registry: a few models built through the services, as people and pipelines
build them, which bench.scale.clone then copies row for row to reach scale.

Each template model has VERSIONS versions with SLICES slices each: the oldest were each promoted to
Production and then replaced (Archived), one is in Production with the one before it as its rollback
target, one in Staging, and one a Draft whose request for Staging passed its gate and awaits a reviewer;
its card was revised a few times; and people without the permission tried to promote it, which the trail
records as refusals. The first template's production version and draft have WIDE_SLICES slices (the
version page with 200 slices).
Refused attempts top each model's trail up to EVENTS_PER_MODEL events, so that copies of the templates
reach the trail's target size in step with the models.
"""

import random
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied

from warehouse.accounts.roles import Role, role_groups_sync
from warehouse.audit.models import AuditEvent
from warehouse.cards.registration import NewModel, registration_parse, version_register_with_card
from warehouse.cards.services import card_revise
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import RequestState
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import version_transition

VERSIONS = 10
SLICES = 20
WIDE_SLICES = 200
EVENTS_PER_MODEL = 100
PASSWORD = "scale-bench-password-1"
TEAMS = ("ranking", "risk")
NAME_PREFIX = "model-"
NAME_DIGITS = 5

METRICS = {"auc": ("higher", 0.91), "log_loss": ("lower", 0.21), "accuracy": ("higher", 0.88)}
SEGMENTS = ("country", "device", "channel", "tenure", "basket")


@dataclass(frozen=True)
class People:
    admin: User
    contributor: User  # registers and asks for promotion
    reviewer: User  # the one the bench signs in as: sees every model through the teams, not as a superuser
    viewer: User  # refused whatever they try


def template_name(index: int) -> str:
    return f"{NAME_PREFIX}{index:0{NAME_DIGITS}d}"


def people_create() -> People:
    role_groups_sync()
    teams = [Group.objects.create(name=name) for name in TEAMS]

    def person(username: str, role: Role | None) -> User:
        if role is None:
            return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
        user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
        user.groups.add(Group.objects.get(name=role.value), *teams)
        return user

    return People(
        admin=person("scale-admin", None),
        contributor=person("scale-contributor", Role.CONTRIBUTOR),
        reviewer=person("scale-reviewer", Role.REVIEWER),
        viewer=person("scale-viewer", Role.VIEWER),
    )


def registration(rng: random.Random, *, slices: int, generation: int) -> dict:
    """A registration as a pipeline sends it: artifacts, a tracked run, metrics, slices, a profile, a card.
    Each generation of a model scores a little better on every slice than the one before, so its gate
    passes against the version in production."""
    return {
        "description": "Scale bench version.",
        "artifacts": [
            {
                "name": "model.onnx",
                "kind": "weights",
                "uri": f"s3://models/{rng.getrandbits(40):x}/model.onnx",
                "sha256": f"{rng.getrandbits(256):064x}",
                "size_bytes": 2**24,
            },
            {
                "name": "config.json",
                "kind": "config",
                "uri": f"s3://models/{rng.getrandbits(40):x}/config.json",
                "sha256": f"{rng.getrandbits(256):064x}",
                "size_bytes": 512,
            },
        ],
        "source_run": {
            "tracking_system": "mlflow",
            "run_id": f"{rng.getrandbits(128):032x}",
            "url": "https://tracking.example.com/r",
        },
        "evaluation": {
            "dataset": "holdout",
            "dataset_version": "2026-11",
            "metrics": [
                {"name": name, "value": round(value + rng.gauss(0, 0.01), 6), "direction": direction}
                for name, (direction, value) in METRICS.items()
            ],
            "slices": [
                {
                    "slice": f"{SEGMENTS[index % len(SEGMENTS)]}=s{index:03d}",
                    "metric": "auc",
                    "value": round(0.85 + index / 10_000 + generation / 1_000, 6),
                    "sample_count": 1000 + index,
                }
                for index in range(slices)
            ],
        },
        "profile": {
            "latency_p50_ms": 4.0,
            "latency_p95_ms": round(9 + rng.random() * 6, 2),
            "latency_p99_ms": 25.0,
            "hardware": "c6i.xlarge",
            "throughput_rps": 900,
            "cost_per_1k_predictions": "0.0125",
            "currency": "USD",
        },
        "card": {
            "task": "Scores each case for the team's queue.",
            "known_failures": "Under-scores new accounts in their first week.",
            "owners_contacts": "ml-oncall@example.com",
        },
    }


def _register(people: People, model, rng: random.Random, *, slices: int) -> ModelVersion:
    generation = 1 if isinstance(model, NewModel) else model.versions.count() + 1
    parsed = registration_parse(registration(rng, slices=slices, generation=generation))
    return version_register_with_card(
        actor=people.contributor, model=model, evidence=parsed.evidence, card_sections=parsed.card_sections
    )


def _to_production(people: People, version: ModelVersion) -> None:
    replaced = version.model.versions.filter(stage=Stage.PRODUCTION).first()
    version_transition(version=version, to_stage=Stage.STAGING, actor=people.admin, reason="Validated.")
    version_transition(
        version=version,
        to_stage=Stage.PRODUCTION,
        actor=people.admin,
        reason="Signed off.",
        expected_production=replaced,
    )


def template_model_build(people: People, index: int, rng: random.Random) -> RegisteredModel:
    team = Group.objects.get(name=TEAMS[index % len(TEAMS)])
    wide = index == 0
    first = _register(people, NewModel(name=template_name(index), team=team), rng, slices=SLICES)
    model = first.model
    versions = [first] + [_register(people, model, rng, slices=SLICES) for _ in range(VERSIONS - 4)]
    versions.append(_register(people, model, rng, slices=WIDE_SLICES if wide else SLICES))
    for version in versions:  # each in turn replaces the one before; the last stays in Production
        _to_production(people, version)
    staging = _register(people, model, rng, slices=SLICES)
    version_transition(version=staging, to_stage=Stage.STAGING, actor=people.admin, reason="Validated.")
    draft = _register(people, model, rng, slices=WIDE_SLICES if wide else SLICES)
    request = promotion_request_open(
        actor=people.contributor,
        version=draft,
        target_stage=Stage.STAGING,
        justification="Better on every slice we track.",
    )
    gate_run_execute(run_id=request.gate_run_id)
    for round_number in range(3):
        card_revise(
            actor=people.contributor,
            version=versions[-1],
            sections={
                "task": "Scores each case for the team's queue.",
                "known_failures": f"Under-scores new accounts in week one (seen {round_number + 1}x).",
                "owners_contacts": "ml-oncall@example.com",
            },
            summary="Known failures updated after review.",
        )
    _refusals_top_up(people, model, staging)
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNOFF, (
        f"the template's gate did not pass: {request.state}"
    )
    return model


def _refusals_top_up(people: People, model: RegisteredModel, version: ModelVersion) -> None:
    """A viewer's attempts to ask for promotion, each refused and on the record, until the model's trail
    holds EVENTS_PER_MODEL events."""
    while AuditEvent.objects.filter(model_name=model.name).count() < EVENTS_PER_MODEL:
        try:
            promotion_request_open(
                actor=people.viewer, version=version, target_stage=Stage.PRODUCTION, justification="Please."
            )
        except PermissionDenied:
            continue
        raise AssertionError("a viewer's promotion request was accepted")


def templates_build(count: int, *, seed: int = 20261204) -> People:
    """`count` template models, built through the services; the people who built them. Each model's team
    may see it (model_create grants that), so the reviewer, in every team, sees every model."""
    rng = random.Random(seed)
    people = people_create()
    for index in range(count):
        template_model_build(people, index, rng)
    return people
