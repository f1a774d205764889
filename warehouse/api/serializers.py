"""Model instances to JSON-ready dicts. Callers pass rows fetched with the relations these read."""

import functools

from django.conf import settings
from django.urls import get_script_prefix, reverse

from warehouse.cards.sections import Section
from warehouse.errors import InvalidInput
from warehouse.promotions.gates.comparison import verdict_of
from warehouse.promotions.models import Decision
from warehouse.promotions.policies.rules import Check, revision_rules
from warehouse.promotions.policies.selectors import policy_page_url, policy_revision_document
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.serving import artifact_summary
from warehouse.tracking.models import ImportState


def absolute(path: str) -> str:
    return f"{settings.WAREHOUSE_BASE_URL}{path}"


# Stand-ins for a model's name (a slug) and a version's number in a reversed path, replaced per row.
_NAME, _NUMBER = "model-name-to-fill", 987654321


@functools.lru_cache(maxsize=16)
def _path_template(view: str, with_number: bool, script_prefix: str) -> str:
    args = [_NAME, _NUMBER] if with_number else [_NAME]
    return reverse(view, args=args).replace(_NAME, "{name}", 1).replace(str(_NUMBER), "{number}", 1)


def page_url(view: str, name: str, number: int | None = None) -> str:
    """`absolute(reverse(view, args=[name, number?]))` for a page of a model or a version, as a list writes
    one per row: reverse() takes about 50 µs a call, 2.5 ms for a page of 50. Names are slugs, which a
    path carries as they are, so filling in a template gives what reverse() would."""
    template = _path_template(view, number is not None, get_script_prefix())
    return absolute(template.format(name=name, number=number))


def model_json(model: RegisteredModel) -> dict:
    return {
        "name": model.name,
        "description": model.description,
        "owner": model.owner.get_username(),
        "team": model.team.name if model.team_id else None,
        "created_at": model.created_at.isoformat(),
        "production_version": getattr(model, "production_number", None),
        "version_count": getattr(model, "version_count", None),
        "url": page_url("registry:model", model.name),
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
        "url": page_url("registry:version", version.model.name, version.number),
        "evidence": "pending" if version.evidence_pending else "attached",
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
        "source_uri": version.source_uri or None,
        "run_id": version.run_id or None,
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


def _revision_ref(revision) -> dict:
    """A PolicyRevision fetched with its policy (and the policy's model); its author is not read."""
    policy = revision.policy
    if policy.model_id is None:
        api_url = reverse("api:global-policy-revision", args=[revision.number])
    else:
        api_url = reverse("api:policy-revision", args=[policy.model.name, revision.number])
    return {
        "scope": policy.model.name if policy.model_id else "global",
        "number": revision.number,
        "url": absolute(policy_page_url(revision)),
        "api_url": absolute(api_url),
    }


def policy_revision_json(revision) -> dict:
    """A PolicyRevision fetched with its policy (and the policy's model) and author."""
    return {**policy_revision_document(revision), **_revision_ref(revision)}


def policy_json(*, model, revision, warnings: list[str]) -> dict:
    """The policy that applies to `model` (None: the global default) now."""
    return {
        "model": model.name if model is not None else None,
        "applies": "global_default" if revision.policy.model_id is None else "own",
        "revision": policy_revision_json(revision),
        "warnings": warnings,
    }


def superseded_request_json(promotion) -> dict:
    """A request a policy revision superseded, fetched with its version, model and requester."""
    model = promotion.version.model
    return {
        "id": promotion.pk,
        "model": model.name,
        "version": promotion.version.number,
        "target_stage": promotion.target_stage,
        "requested_by": promotion.requested_by.get_username(),
        "url": absolute(reverse("promotions:request", args=[model.name, promotion.pk])),
        "api_url": absolute(reverse("api:promotion", args=[model.name, promotion.pk])),
    }


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
                "numbers": _check_numbers(result.numbers),
            }
            for result in results
        ]
    return answer


def _check_numbers(numbers) -> dict:
    """A check's numbers as recorded, with each slice verdict by today's name (runs recorded earlier used
    other names for the same verdicts)."""
    if not isinstance(numbers, dict):
        return {}
    rows = numbers.get("rows")
    if not isinstance(rows, list):
        return numbers
    return numbers | {"rows": [row | {"verdict": verdict_of(row)} for row in rows if isinstance(row, dict)]}


# --- Promotion requests and sign-offs -------------------------------------------------------------------


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def signoff_json(signoff) -> dict:
    """A SignOff fetched with its signer."""
    return {
        "signer": signoff.signer.get_username(),
        "role": signoff.role,
        "decision": signoff.decision,
        "comment": signoff.comment,
        "override": signoff.override,
        "gate_run": signoff.gate_run_id,
        "created_at": signoff.created_at.isoformat(),
    }


def _signoff_rule(promotion):
    try:
        return revision_rules(promotion.gate_run.policy_revision).for_target(promotion.target_stage).signoffs
    except InvalidInput:
        # An unreadable revision approves nothing; the gate run reports the error.
        return None


def promotion_json(promotion, *, signoffs: list | None = None) -> dict:
    """A PromotionRequest fetched with its model, version, people and gate run (with its policy revision
    and the revision's policy and model), as `promotions.requests.selectors` fetch it. With `signoffs` (all
    of the request's, oldest first, with their signers), the sign-offs and what is still needed are
    included."""
    model, version, run = promotion.model, promotion.version, promotion.gate_run
    answer = {
        "id": promotion.pk,
        "model": model.name,
        "version": {
            "id": f"{model.name}/v{version.number}",
            "version": version.number,
            "url": absolute(reverse("registry:version", args=[model.name, version.number])),
            "api_url": absolute(reverse("api:version", args=[model.name, version.number])),
        },
        "from_stage": promotion.from_stage,
        "target_stage": promotion.target_stage,
        "state": promotion.state,
        "justification": promotion.justification,
        "requested_by": promotion.requested_by.get_username(),
        "created_at": promotion.created_at.isoformat(),
        "closed_at": _when(promotion.closed_at),
        "closed_by": _username(promotion.closed_by),
        "closed_reason": promotion.closed_reason or None,
        "overridden": promotion.overridden,
        "override_justification": promotion.override_justification or None,
        "overridden_by": _username(promotion.overridden_by),
        "gate_run": {
            "id": run.pk,
            "state": run.state,
            "policy_revision": _revision_ref(run.policy_revision),
            "url": absolute(reverse("promotions:gate-run", args=[model.name, version.number, run.pk])),
            "api_url": absolute(reverse("api:gate-run", args=[model.name, version.number, run.pk])),
        },
        "url": absolute(reverse("promotions:request", args=[model.name, promotion.pk])),
        "api_url": absolute(reverse("api:promotion", args=[model.name, promotion.pk])),
    }
    if signoffs is not None:
        rule = _signoff_rule(promotion)
        approvals = sum(1 for s in signoffs if s.gate_run_id == run.pk and s.decision == Decision.APPROVE)
        answer["signoffs"] = [signoff_json(signoff) for signoff in signoffs]
        answer["signoffs_required"] = (
            None if rule is None else {"count": rule.count, "roles": list(rule.roles)}
        )
        if not promotion.is_open:
            answer["signoffs_needed"] = 0
        else:
            answer["signoffs_needed"] = None if rule is None else max(rule.count - approvals, 0)
    return answer


# --- Model cards ----------------------------------------------------------------------------------------


def card_json(*, version: ModelVersion, revision, completeness) -> dict:
    """The current CardRevision of `version` (fetched with its author), or None for a card never written,
    with its Completeness (cards.selectors.completeness_of). `version.model` is set."""
    model = version.model
    sections = dict(revision.sections) if revision is not None else {}
    html = dict(revision.sections_html) if revision is not None else {}
    filled = [key for key in Section.values if key in completeness.filled]
    args = [model.name, version.number]
    return {
        "model": model.name,
        "version": version.number,
        "id": version.identifier,
        "stage": version.stage,
        "revision": revision.number if revision is not None else None,
        "author": revision.author.get_username() if revision is not None else None,
        "created_at": revision.created_at.isoformat() if revision is not None else None,
        "summary": revision.summary if revision is not None else None,
        "sections": {key: sections[key] for key in filled},
        "sections_html": {key: html.get(key, "") for key in filled},
        "completeness": {
            "filled": filled,
            "empty": [key for key in Section.values if key not in completeness.filled],
            "required": list(completeness.required),
            "missing": [key for key, _ in completeness.missing],
            "required_by": completeness.source,
        },
        "exports": {
            "huggingface": absolute(reverse("api:card-export-huggingface", args=args)),
            "toolkit": absolute(reverse("api:card-export-toolkit", args=args)),
        },
        "url": absolute(reverse("cards:card", args=args)),
        "api_url": absolute(reverse("api:card", args=args)),
    }


def run_import_json(run_import) -> dict:
    """A RunImport (tracking.models) as the API shows it; its version's model is loaded."""
    version = run_import.version
    failed = run_import.failure_code and run_import.state in (ImportState.RETRYING, ImportState.FAILED)
    return {
        "version": version.identifier,
        "state": run_import.state,
        "tracking_server": run_import.server.name,
        "run_id": run_import.run_id,
        "source": run_import.source,
        "attempts": run_import.attempts,
        "bytes_done": run_import.bytes_done,
        "bytes_total": run_import.bytes_total,
        "failure": ({"code": run_import.failure_code, "message": run_import.last_error} if failed else None),
        "notes": list(run_import.notes or []),
        "next_attempt_at": (
            _when(run_import.next_attempt_at) if run_import.state == ImportState.RETRYING else None
        ),
        "created_at": run_import.created_at.isoformat(),
        "started_at": _when(run_import.started_at),
        "finished_at": _when(run_import.finished_at),
        "version_url": absolute(reverse("api:version", args=[version.model.name, version.number])),
    }
