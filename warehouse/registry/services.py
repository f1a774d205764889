"""Every write to the registry. Keyword-only, one transaction each, audited in that transaction."""

import re
from dataclasses import asdict

from django.db import transaction
from django.db.models import F, Max

from warehouse import clock
from warehouse.accounts.permissions import model_access
from warehouse.audit.services import audit_record
from warehouse.changes import heard_before_answering
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.evidence import Evidence

# Writes about models themselves (warehouse/registry/model_services.py), named here with the other services.
from warehouse.registry.model_services import (  # noqa: F401
    MODEL_NAME,
    RESERVED_MODEL_NAMES,
    ModelNameTaken,
    description_problem,
    model_create,
    model_name_problem,
    model_permissions_set,
    model_update,
)
from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    EvaluationReport,
    ModelVersion,
    PerformanceProfile,
    ProductionAnswer,
    RegisteredModel,
    SliceMetric,
    SourceRun,
    Stage,
    StageTransition,
    TransitionKind,
)
from warehouse.registry.serving import production_body, production_document
from warehouse.registry.stage_listeners import StageChange, stage_listeners_run
from warehouse.registry.uris import UriRefused, tracked_source_match, uri_validate

# A tracked run's id as MLflow and its peers write them: no spaces or control characters.
RUN_ID = re.compile(r"^[^\x00-\x20\x7f]*$")

# --- Registering a version ----------------------------------------------------------------------------


def version_register(*, actor, model: RegisteredModel, evidence: Evidence) -> ModelVersion:
    """Register the next version of `model` in Draft with its evidence, all or nothing."""
    model_access(actor, model).require(
        "registry.register_version", attempted=f"register versions of {model.name}"
    )
    # No savepoint inside a caller's transaction: a registration that fails leaves nothing to keep.
    with transaction.atomic(savepoint=False):
        version = _version_next(actor, model, description=evidence.description, attached=True)
        _evidence_create(version, evidence)
        audit_record(
            actor=actor,
            action="version.registered",
            target=version,
            target_label=version.identifier,
            model_name=model.name,
            data={"number": version.number, "uuid": str(version.uuid), **_evidence_summary(evidence)},
        )
    return version


def version_register_pending(
    *, actor, model: RegisteredModel, source_uri: str, run_id: str = "", description: str = ""
) -> ModelVersion:
    """Register the next version of `model` in Draft knowing only where its files are and the run that made
    them (all MLflow's registry API gives): no digests, evaluation or profile. Its evidence is pending until
    `version_evidence_attach` writes it, once; meanwhile the gate fails it and the stage door keeps it out of
    Staging and Production. The source URI is checked like an artifact's, stored and shown, never fetched."""
    model_access(actor, model).require(
        "registry.register_version", attempted=f"register versions of {model.name}"
    )
    errors = _pending_problems(source_uri, run_id, description)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic(savepoint=False):
        version = _version_next(
            actor, model, description=description, attached=False, source_uri=source_uri, run_id=run_id
        )
        audit_record(
            actor=actor,
            action="version.registered",
            target=version,
            target_label=version.identifier,
            model_name=model.name,
            data={
                "number": version.number,
                "uuid": str(version.uuid),
                "evidence": "pending",
                "source_uri": source_uri,
                "run_id": run_id or None,
            },
        )
    return version


def _pending_problems(source_uri, run_id, description) -> dict[str, list[str]]:
    errors = {}
    try:
        # A tracked run's model (runs:/, models:/) is read only by an import from a configured server.
        if not tracked_source_match(source_uri):
            uri_validate(source_uri)
    except UriRefused as refusal:
        errors["source_uri"] = [str(refusal)]
    if not isinstance(run_id, str) or len(run_id) > 200 or not RUN_ID.match(run_id):
        errors["run_id"] = ["Must be text of at most 200 characters, without spaces or control characters."]
    problem = description_problem(description)
    if problem:
        errors["description"] = [problem]
    return errors


def _version_next(
    actor, model: RegisteredModel, *, description: str, attached: bool, **known
) -> ModelVersion:
    """The next version of `model`, in Draft. In the caller's transaction."""
    # The lock makes version numbers gapless and unique under concurrent registrations.
    RegisteredModel.objects.select_for_update().get(pk=model.pk)
    number = (model.versions.aggregate(last=Max("number"))["last"] or 0) + 1
    now = clock.now()
    version = ModelVersion.objects.create(
        model=model,
        number=number,
        stage=Stage.DRAFT,
        stage_changed_at=now,
        created_at=now,
        description=description,
        registered_by=actor,
        evidence_attached_at=now if attached else None,
        **known,
    )
    version.model = model
    return version


def _evidence_summary(evidence: Evidence) -> dict:
    """What the audit trail keeps of evidence as it is written."""
    return {
        "artifacts": [
            {"name": a.name, "kind": a.kind, "uri": a.uri, "sha256": a.sha256} for a in evidence.artifacts
        ],
        "source_run": asdict(evidence.source_run) if evidence.source_run else None,
        "metrics": {m.name: m.value for m in evidence.evaluation.metrics} if evidence.evaluation else {},
        "slice_count": len(evidence.evaluation.slices) if evidence.evaluation else 0,
    }


def version_evidence_attach(*, actor, version: ModelVersion, evidence: Evidence) -> ModelVersion:
    """Write the evidence of a version registered with its evidence pending: once, all or nothing.

    The same permission as registering, and the same evidence as a registration carries. Once attached it
    is immutable like any version's: a second attempt is refused (Conflict `evidence_already_attached`, on
    the record) and writes nothing. The model row is locked, so of two attempts at once exactly one writes.
    """
    model = version.model
    model_access(actor, model).require(
        "registry.register_version", attempted=f"attach the evidence of {version.identifier}"
    )
    try:
        with transaction.atomic():
            RegisteredModel.objects.select_for_update().get(pk=model.pk)
            version.refresh_from_db(fields=["evidence_attached_at", "description", "run_id", "source_uri"])
            if not version.evidence_pending:
                raise Conflict(
                    f"The evidence of {version.identifier} was attached at "
                    f"{version.evidence_attached_at.isoformat()} and never changes; register a new version "
                    "for new evidence.",
                    code="evidence_already_attached",
                )
            errors = _attach_problems(version, evidence)
            if errors:
                raise InvalidInput(errors)
            _evidence_create(version, evidence)
            version.evidence_attached_at = clock.now()
            fields = ["evidence_attached_at"]
            if evidence.description and not version.description:
                version.description = evidence.description
                fields.append("description")
            version.save(update_fields=fields)
            audit_record(
                actor=actor,
                action="version.evidence_attached",
                target=version,
                target_label=version.identifier,
                model_name=model.name,
                data={
                    "number": version.number,
                    "source_uri": version.source_uri,
                    **_evidence_summary(evidence),
                },
            )
    except Conflict as refusal:
        audit_record(
            actor=actor,
            action="version.evidence_attach_refused",
            target=version,
            target_label=version.identifier,
            model_name=model.name,
            data={"code": refusal.code, "message": refusal.message},
        )
        raise
    return version


def _attach_problems(version: ModelVersion, evidence: Evidence) -> dict[str, list[str]]:
    """What in `evidence` contradicts what the version was registered with."""
    errors = {}
    if version.description and evidence.description and evidence.description != version.description:
        errors["description"] = [
            f"{version.identifier} was registered with another description; leave it out or repeat it."
        ]
    if version.run_id and evidence.source_run and evidence.source_run.run_id != version.run_id:
        errors["source_run.run_id"] = [
            f"{version.identifier} was registered from run {version.run_id}; its evidence is that run's."
        ]
    return errors


def _evidence_create(version: ModelVersion, evidence: Evidence) -> None:
    Artifact.objects.bulk_create(
        Artifact(version=version, **asdict(artifact)) for artifact in evidence.artifacts
    )
    if evidence.source_run:
        SourceRun.objects.create(version=version, **asdict(evidence.source_run))
    if evidence.evaluation:
        report = EvaluationReport.objects.create(
            version=version,
            dataset=evidence.evaluation.dataset,
            dataset_version=evidence.evaluation.dataset_version,
        )
        EvaluationMetric.objects.bulk_create(
            EvaluationMetric(report=report, **asdict(metric)) for metric in evidence.evaluation.metrics
        )
        SliceMetric.objects.bulk_create(
            (SliceMetric(report=report, **asdict(slice_)) for slice_ in evidence.evaluation.slices),
            batch_size=1000,
        )
    if evidence.profile:
        PerformanceProfile.objects.create(version=version, **asdict(evidence.profile))


# --- The stage machine: the one door --------------------------------------------------------------------

# DESIGN invariant 1. Archived → Production exists only as a rollback to the recorded target.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    Stage.DRAFT: frozenset({Stage.STAGING, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED}),
    Stage.ARCHIVED: frozenset(),
}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


def version_transition(
    *,
    version: ModelVersion,
    to_stage: Stage | str,
    actor,
    reason: str,
    expected_production: ModelVersion | None | _Unset = UNSET,
    cause: object | None = None,
) -> StageTransition:
    """Move `version` to `to_stage`. The only code that writes ModelVersion.stage.

    Every move runs the stage listeners that higher apps registered (registry.stage_listeners), in this
    transaction: promotions supersedes the requests the move made stale. `cause` is passed to them: what
    asked for the move (a promotion request), which they leave alone.

    Promotion to Production replaces the current production version, which is archived and becomes the
    new version's rollback target. The caller states which version it expects to replace
    (`expected_production`, None for "none"): if production changed meanwhile, the move is refused rather
    than silently replacing a version the caller never saw. Archived → Production is a rollback, allowed
    only to the current production version's recorded rollback target; a caller that states
    `expected_production` there too is refused if production is no longer the version it expected (a
    promotion decided while the version was in Staging never turns into a rollback).

    Who may ask for a move is decided by the caller (promotion, archive, rollback services); this
    function decides whether the move is possible and makes it atomically. A refused move raises Conflict
    and leaves an audit event, written in the caller's transaction when there is one: a caller inside its
    own transaction catches the Conflict, records what it means for its own work (a promotion request
    superseded, say) and commits, or the refusal's event is rolled back with everything else.

    Lock order: the model row, then the head of the audit chain. A caller that runs this inside its own
    transaction must not record an audit event before calling it, or it holds the chain while waiting for
    the model row that another mover holds while waiting for the chain (a deadlock on PostgreSQL).
    """
    to_stage = Stage(to_stage)
    if not reason or not reason.strip():
        raise InvalidInput({"reason": ["Say why the stage changes."]})
    try:
        with transaction.atomic():
            return _transition_locked(version, to_stage, actor, reason.strip(), expected_production, cause)
    except Conflict as refusal:
        audit_record(
            actor=actor,
            action="version.stage_change_refused",
            target=version,
            target_label=version.identifier,
            model_name=version.model.name,
            data={
                "from": version.stage,
                "to": to_stage.value,
                "code": refusal.code,
                "message": refusal.message,
            },
        )
        raise


def _transition_locked(version, to_stage, actor, reason, expected_production, cause) -> StageTransition:
    model = RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    version.refresh_from_db(fields=["stage", "rollback_target", "rolled_back_at", "evidence_attached_at"])
    version.model = model
    from_stage = Stage(version.stage)
    now = clock.now()

    if from_stage == to_stage:
        raise Conflict(f"{version.identifier} is already in {to_stage.label}.", code="already_in_stage")
    _require_evidence(version, to_stage)

    current = model.versions.filter(stage=Stage.PRODUCTION).exclude(pk=version.pk).first()
    if current is not None:
        current.model = model

    if from_stage == Stage.ARCHIVED and to_stage == Stage.PRODUCTION:
        # A caller that saw this version in Staging and states what it replaces must not roll production
        # back by accident: the version was promoted and replaced meanwhile, and production is another now.
        if expected_production is not UNSET:
            _require_expected_production(current, expected_production)
        return _rollback_locked(version, current, actor, reason, now, cause)

    if to_stage not in ALLOWED_MOVES[from_stage]:
        allowed = ", ".join(Stage(stage).label for stage in sorted(ALLOWED_MOVES[from_stage])) or "nothing"
        raise Conflict(
            f"{version.identifier} cannot move from {from_stage.label} to {to_stage.label}. "
            f"Allowed from {from_stage.label}: {allowed}.",
            code="move_not_allowed",
        )

    replaced = None
    if to_stage == Stage.PRODUCTION:
        if expected_production is UNSET:
            # Decided on the stored stage, not the caller's copy: a caller holding a stale copy of a
            # rollback target (shown as Production, now Archived) still rolls back.
            raise TypeError("A promotion to Production must state expected_production (a version or None).")
        _require_expected_production(current, expected_production)
        if current is not None:
            # Archive first: the partial unique index allows one production row at any instant.
            _set_stage(current, Stage.ARCHIVED, now)
            _transition_row(
                current,
                Stage.PRODUCTION,
                Stage.ARCHIVED,
                TransitionKind.REPLACED,
                actor,
                f"Replaced by {version.identifier}: {reason}",
                now,
            )
            replaced = current
        version.rollback_target = replaced

    _set_stage(version, to_stage, now, extra_fields=("rollback_target",))
    kind = (
        TransitionKind.PROMOTION if to_stage in (Stage.STAGING, Stage.PRODUCTION) else TransitionKind.ARCHIVE
    )
    transition = _transition_row(version, from_stage, to_stage, kind, actor, reason, now)
    if Stage.PRODUCTION in (from_stage, to_stage):
        _production_answer_write(model, now)
    stage_listeners_run(StageChange(version, from_stage, to_stage, transition, cause))
    return transition


def _require_evidence(version: ModelVersion, to_stage: Stage) -> None:
    """Whatever asks (a request, an override, the admin, a command), nothing without evidence moves up."""
    if version.evidence_pending and to_stage in (Stage.STAGING, Stage.PRODUCTION):
        raise Conflict(
            f"{version.identifier} has no evidence yet (registered from {version.source_uri or 'a source'} "
            "without digests, evaluation or profile): attach it with PUT "
            f"/api/v1/models/{version.model.name}/versions/{version.number}/evidence before it leaves Draft.",
            code="evidence_pending",
        )


def _require_expected_production(current, expected_production) -> None:
    expected_pk = expected_production.pk if expected_production is not None else None
    if (current.pk if current else None) != expected_pk:
        now_in = current.identifier if current else "nothing"
        raise Conflict(
            f"Production changed since this promotion was decided: {now_in} is in production now. "
            "Look at the current state and decide again.",
            code="production_changed",
        )


def _rollback_locked(target, current, actor, reason, now, cause) -> StageTransition:
    if current is None:
        raise Conflict(
            f"{target.model.name} has nothing in production to roll back from.", code="no_production_version"
        )
    if current.rollback_target_id != target.pk:
        recorded = current.rollback_target.identifier if current.rollback_target_id else "none"
        raise Conflict(
            f"{target.identifier} is not the rollback target of {current.identifier} "
            f"(its recorded target is {recorded}).",
            code="not_rollback_target",
        )
    _set_stage(current, Stage.ARCHIVED, now, extra_fields=("rolled_back_at",), rolled_back_at=now)
    _transition_row(
        current,
        Stage.PRODUCTION,
        Stage.ARCHIVED,
        TransitionKind.ROLLED_BACK,
        actor,
        f"Rolled back to {target.identifier}: {reason}",
        now,
    )
    # The target keeps its own recorded rollback target: the version that was before it.
    _set_stage(target, Stage.PRODUCTION, now)
    transition = _transition_row(
        target, Stage.ARCHIVED, Stage.PRODUCTION, TransitionKind.ROLLBACK, actor, reason, now
    )
    _production_answer_write(target.model, now)
    stage_listeners_run(StageChange(target, Stage.ARCHIVED, Stage.PRODUCTION, transition, cause))
    return transition


def _set_stage(
    version: ModelVersion, stage: Stage, now, extra_fields: tuple[str, ...] = (), **values
) -> None:
    for field, value in values.items():
        setattr(version, field, value)
    version.stage = stage
    version.stage_changed_at = now
    version.save(update_fields=["stage", "stage_changed_at", *extra_fields])


def _transition_row(version, from_stage, to_stage, kind, actor, reason, now) -> StageTransition:
    transition = StageTransition.objects.create(
        model=version.model,
        version=version,
        from_stage=from_stage,
        to_stage=to_stage,
        kind=kind,
        actor=actor,
        reason=reason,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action="version.stage_changed",
        target=version,
        target_label=version.identifier,
        model_name=version.model.name,
        data={
            "from": str(from_stage),
            "to": str(to_stage),
            "kind": str(kind),
            "reason": reason,
            "rollback_target": version.rollback_target.identifier if version.rollback_target_id else None,
        },
    )
    return transition


def _production_answer_write(model: RegisteredModel, now) -> None:
    """Store what the production lookup answers for `model` from now on, in the stage change's own
    transaction (the model row is locked): the answer commits with the change or not at all. Its trigger
    tells every web process, on commit, to forget what it remembered (warehouse/changes.py)."""
    production = (
        ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)
        .select_related("rollback_target")
        .prefetch_related("artifacts")
        .first()
    )
    document = production_document(model_name=model.name, version=production) if production else None
    body, etag = production_body(document)
    fields = {"body": body, "etag": etag, "version": production, "updated_at": now}
    # The model row is locked: no one else creates this row or moves its generation meanwhile.
    if not ProductionAnswer.objects.filter(model=model).update(generation=F("generation") + 1, **fields):
        ProductionAnswer.objects.create(model=model, generation=1, **fields)
    # Whoever made the change is answered once this process has heard it (a millisecond or so): from then
    # on it serves the new answer too. Robust: a committed change is reported done, whatever happens here.
    transaction.on_commit(heard_before_answering, robust=True)
