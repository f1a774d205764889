"""Test data made through the real services, so tests start from states the product can reach."""

import itertools

import factory
from django.contrib.auth.models import Group, User

from warehouse.accounts.roles import Role
from warehouse.cards.registration import NewModel, registration_parse, version_register_with_card
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import version_register_pending, version_transition

_names = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


def user_with_roles(username: str, *roles: Role, teams: tuple[Group, ...] = ()) -> User:
    user = UserFactory(username=username)
    user.groups.add(*[Group.objects.get(name=role.value) for role in roles], *teams)
    # A fresh instance: Django caches permissions on the user object.
    return User.objects.get(pk=user.pk)


def evidence_payload(*, slices: int = 3, metrics: dict[str, float] | None = None, **overrides) -> dict:
    """A complete, valid registration body, as a CI pipeline would send it."""
    metrics = metrics or {"auc": 0.91, "log_loss": 0.21}
    payload = {
        "description": "Retrained on October data.",
        "artifacts": [
            {
                "name": "model.onnx",
                "kind": "weights",
                "uri": "s3://models/fraud/model.onnx",
                "sha256": "ab" * 32,
                "size_bytes": 123456,
            },
            {
                "name": "config.json",
                "kind": "config",
                "uri": "s3://models/fraud/config.json",
                "sha256": "cd" * 32,
                "size_bytes": 512,
            },
        ],
        "source_run": {
            "tracking_system": "mlflow",
            "run_id": "run-42",
            "url": "https://mlflow.example.com/runs/42",
            "git_commit": "0123456789abcdef0123",
            "training_data": "s3://data/payments/2026-10",
        },
        "evaluation": {
            "dataset": "payments-holdout",
            "dataset_version": "2026-10",
            "metrics": [{"name": name, "value": value} for name, value in metrics.items()],
            "slices": [
                {
                    "slice": f"region=r{index}",
                    "metric": "auc",
                    "value": 0.8 + index / 10_000,
                    "sample_count": 100 + index,
                }
                for index in range(slices)
            ],
        },
        "profile": {
            "latency_p50_ms": 4.1,
            "latency_p95_ms": 9.5,
            "latency_p99_ms": 15.0,
            "hardware": "c6i.xlarge",
            "throughput_rps": 850,
            "cost_per_1k_predictions": "0.0125",
            "currency": "USD",
        },
        "card": {
            "task": "Scores card payments for fraud.",
            "known_failures": "New merchants in their first week.",
        },
    }
    payload.update(overrides)
    return payload


def model_create_for_tests(
    *, actor: User, name: str | None = None, team: Group | None = None
) -> RegisteredModel:
    """A model with its first version, registered by `actor` (who needs the contributor role)."""
    name = name or f"model-{next(_names)}"
    version = version_register_with_card(
        actor=actor,
        model=NewModel(name=name, team=team),
        evidence=registration_parse(evidence_payload()).evidence,
        card_sections={},
    )
    return version.model


def version_register_for_tests(*, actor: User, model: RegisteredModel, **payload_overrides) -> ModelVersion:
    registration = registration_parse(evidence_payload(**payload_overrides))
    return version_register_with_card(
        actor=actor, model=model, evidence=registration.evidence, card_sections=registration.card_sections
    )


def version_move(version: ModelVersion, *stages: Stage, actor: User) -> ModelVersion:
    """Walk `version` through `stages` with the stage service, replacing whatever is in production."""
    for stage in stages:
        expected = (
            ModelVersion.objects.filter(model_id=version.model_id, stage=Stage.PRODUCTION)
            .exclude(pk=version.pk)
            .first()
        )
        version_transition(
            version=version,
            to_stage=stage,
            actor=actor,
            reason=f"test: to {stage}",
            expected_production=expected,
        )
        version.refresh_from_db()
    return version


def version_register_pending_for_tests(
    *, actor: User, model: RegisteredModel, source_uri: str = "s3://mlflow/artifacts/7/abc/model"
) -> ModelVersion:
    """A version registered as MLflow's registry API registers one: its source and run, no evidence yet."""
    return version_register_pending(actor=actor, model=model, source_uri=source_uri, run_id="abc123")
