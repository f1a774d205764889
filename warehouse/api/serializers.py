"""Model instances to JSON-ready dicts. Callers pass rows fetched with the relations these read."""

from django.conf import settings
from django.urls import reverse

from warehouse.promotions.policy import Check
from warehouse.promotions.selectors import policy_page_url, policy_revision_document
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


# --- Policies and gate runs -----------------------------------------------------------------------------


def policy_revision_json(revision) -> dict:
    """A PolicyRevision fetched with its policy (and the policy's model) and author."""
    policy = revision.policy
    if policy.model_id is None:
        api_url = reverse("api:global-policy-revision", args=[revision.number])
    else:
        api_url = reverse("api:policy-revision", args=[policy.model.name, revision.number])
    return {
        **policy_revision_document(revision),
        "url": absolute(policy_page_url(revision)),
        "api_url": absolute(api_url),
    }


def policy_json(*, model, revision, warnings: list[str]) -> dict:
    """The policy that applies to `model` (None: the global default) now."""
    return {
        "model": model.name if model is not None else None,
        "applies": "global_default" if revision.policy.model_id is None else "own",
        "revision": policy_revision_json(revision),
        "warnings": warnings,
    }


def _revision_ref(revision) -> dict:
    full = policy_revision_json(revision)
    return {key: full[key] for key in ("scope", "number", "url", "api_url")}


def gate_run_json(run, *, results: list | None = None) -> dict:
    """A GateRun fetched with its policy revision (and its policy), requester and baseline; `run.version`
    carries its model. With `results`, the checks are included."""
    version, model = run.version, run.version.model
    answer = {
        "id": run.pk,
        "model": model.name,
        "version": version.number,
        "target_stage": run.target_stage,
        "state": run.state,
        "progress": {"done": run.checks_done, "total": run.checks_total},
        "requested_by": run.requested_by.get_username(),
        "requested_at": run.requested_at.isoformat(),
        "enqueued_at": run.enqueued_at.isoformat() if run.enqueued_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": run.duration_seconds,
        "attempts": run.attempts,
        "error": run.error or None,
        "baseline": None
        if run.baseline_id is None
        else {
            "id": f"{model.name}/v{run.baseline.number}",
            "version": run.baseline.number,
            "url": absolute(reverse("registry:version", args=[model.name, run.baseline.number])),
            "api_url": absolute(reverse("api:version", args=[model.name, run.baseline.number])),
        },
        "policy_revision": _revision_ref(run.policy_revision),
        "url": absolute(reverse("promotions:gate-run", args=[model.name, version.number, run.pk])),
        "api_url": absolute(reverse("api:gate-run", args=[model.name, version.number, run.pk])),
    }
    if results is not None:
        answer["results"] = [
            {
                "check": result.check_name,
                "title": Check.TITLES.get(result.check_name, result.check_name),
                "status": result.status,
                "required": result.required,
                "summary": result.summary,
                "numbers": result.numbers,
            }
            for result in results
        ]
    return answer
