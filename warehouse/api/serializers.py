"""Model instances to JSON-ready dicts. Callers pass rows fetched with the relations these read."""

from django.conf import settings
from django.urls import reverse

from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.selectors import artifact_summary


def absolute(path: str) -> str:
    return f"{settings.WAREHOUSE_BASE_URL}{path}"


def model_json(model: RegisteredModel) -> dict:
    return {
        "name": model.name,
        "description": model.description,
        "owner": model.owner.get_username(),
        "team": model.team.name if model.team_id else None,
        "created_at": model.created_at.isoformat(),
        "production_version": getattr(model, "production_number", None),
        "version_count": getattr(model, "version_count", None),
        "url": absolute(reverse("registry:model", args=[model.name])),
    }


def version_summary_json(version: ModelVersion) -> dict:
    return {
        "id": version.identifier,
        "uuid": str(version.uuid),
        "model": version.model.name,
        "version": version.number,
        "stage": version.stage,
        "stage_changed_at": version.stage_changed_at.isoformat(),
        "registered_by": version.registered_by.get_username(),
        "created_at": version.created_at.isoformat(),
        "rollback_target": (
            f"{version.model.name}/v{version.rollback_target.number}" if version.rollback_target_id else None
        ),
        "url": absolute(reverse("registry:version", args=[version.model.name, version.number])),
    }


def version_detail_json(page) -> dict:
    """A VersionPage (see registry.selectors.version_page) as the API shows it."""
    version = page.version
    source_run = getattr(version, "source_run", None)
    evaluation = getattr(version, "evaluation", None)
    profile = getattr(version, "profile", None)
    return {
        **version_summary_json(version),
        "description": version.description,
        "artifacts": [artifact_summary(a) for a in page.artifacts],
        "source_run": None
        if source_run is None
        else {
            "tracking_system": source_run.tracking_system,
            "run_id": source_run.run_id,
            "url": source_run.url or None,
            "git_commit": source_run.git_commit or None,
            "training_data": source_run.training_data or None,
        },
        "evaluation": None
        if evaluation is None
        else {
            "dataset": evaluation.dataset,
            "dataset_version": evaluation.dataset_version or None,
            "metrics": [{"name": m.name, "value": m.value, "direction": m.direction} for m in page.metrics],
            "slices": [
                {"slice": s.slice_key, "metric": s.metric, "value": s.value, "sample_count": s.sample_count}
                for s in page.slices
            ],
        },
        "profile": None
        if profile is None
        else {
            "latency_p50_ms": profile.latency_p50_ms,
            "latency_p95_ms": profile.latency_p95_ms,
            "latency_p99_ms": profile.latency_p99_ms,
            "hardware": profile.hardware or None,
            "throughput_rps": profile.throughput_rps,
            "cost_per_1k_predictions": (
                str(profile.cost_per_1k_predictions) if profile.cost_per_1k_predictions is not None else None
            ),
            "currency": profile.currency,
        },
    }
