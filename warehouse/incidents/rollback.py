"""Rolling production back to its recorded target: the incident responder's one write.

Kept beside the alert-receiving services (`services.py`) in a module of its own because it is the one
incident action that changes a stage, and it goes through the one door (`version_transition`) like every
other stage change.
"""

from django.db import transaction
from django.db.models import Q

from warehouse.accounts.permissions import model_access
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.incidents.models import Incident, IncidentStatus
from warehouse.promotions.gates.snapshot import sha256_of_file, stored_artifact_path
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage, StageTransition, TransitionKind
from warehouse.registry.services import version_transition
from warehouse.text import is_encodable

RESPOND = "registry.respond_incident"


def target_evidence_problems(target: ModelVersion) -> list[str]:
    """What keeps `target` from serving again: an artifact without a digest, or a file in the warehouse's
    own storage whose bytes no longer match the digest registered for it. Files elsewhere are never
    fetched (the warehouse opens nothing a user named); their registered digests are what serving checks."""
    problems = []
    for artifact in target.artifacts.all():
        if not artifact.sha256:
            problems.append(f"{artifact.name} has no digest.")
            continue
        path = stored_artifact_path(artifact.uri)
        if path is None:
            continue
        found = sha256_of_file(path)
        if found is None:
            problems.append(f"{artifact.name} is missing from the warehouse's storage ({artifact.uri}).")
        elif found != artifact.sha256:
            problems.append(f"{artifact.name} no longer matches its digest (found {found[:12]}…).")
    return problems


def production_rollback(
    *,
    actor,
    model: RegisteredModel,
    expected_current: ModelVersion,
    reason: str,
    incident: Incident | None = None,
) -> StageTransition:
    """Put the production version's recorded rollback target back into production.

    `expected_current` is the production version the responder was looking at: if production changed
    meanwhile (another responder rolled back first), nothing happens and the Conflict says what did. No gate
    and no sign-off: the target was approved before. Refusals are on the record.
    """
    model_access(actor, model).require(RESPOND, attempted=f"roll back {model.name}")
    reason = (reason or "").strip() if isinstance(reason, str) else None
    if not reason:
        raise InvalidInput({"reason": ["Say why production is rolled back: the incident, what was seen."]})
    if len(reason) > 2000 or "\x00" in reason or not is_encodable(reason):
        raise InvalidInput(
            {"reason": ["At most 2000 characters of text, without NUL characters or lone surrogates."]}
        )
    # Re-verifying reads the target's stored files, perhaps gigabytes: done before the model row is locked,
    # so sign-offs, archives and alerts on the model are not held up; the lock then checks it is the same
    # target.
    checked_target = (
        ModelVersion.objects.filter(pk=expected_current.pk)
        .values_list("rollback_target_id", flat=True)
        .first()
    )
    problems = target_evidence_problems(ModelVersion(pk=checked_target)) if checked_target else []
    try:
        with transaction.atomic():
            return _rollback_locked(
                actor, model, expected_current, reason, incident, checked_target, problems
            )
    except Conflict as refusal:
        # Written after the rollback of the attempt, so the refusal itself stays on the record.
        audit_record(
            actor=actor,
            action="incident.rollback_refused",
            target=model,
            model_name=model.name,
            data={
                "code": refusal.code,
                "message": refusal.message,
                "expected_current": expected_current.number,
                **({"incident": incident.pk} if incident is not None else {}),
            },
        )
        raise


def _rollback_locked(
    actor, model, expected_current, reason, incident, checked_target, problems
) -> StageTransition:
    # Lock order: the model row, then the incident rows, then (with the first audit event) the head of the
    # audit chain, the order alert deliveries take rows and chain in too.
    RegisteredModel.objects.select_for_update().get(pk=model.pk)
    incidents = _incidents_lock(model, incident)
    current = (
        ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)
        .select_related("rollback_target")
        .first()
    )
    if current is None or current.pk != expected_current.pk:
        raise _already_changed(model, expected_current, current)
    current.model = model
    target = current.rollback_target
    if target is None:
        raise Conflict(
            f"{current.identifier} has no rollback target: it was the first version in production.",
            code="no_rollback_target",
        )
    target.model = model
    if target.pk != checked_target:
        # The rollback target is recorded at promotion and never changes while the version serves; a
        # different one means production moved between the check and the lock.
        raise _already_changed(model, expected_current, current)
    if problems:
        raise Conflict(
            f"{target.identifier} failed re-verification, so it is not put back into production: "
            + " ".join(problems),
            code="target_evidence_failed",
        )
    transition = version_transition(
        version=target,
        to_stage=Stage.PRODUCTION,
        actor=actor,
        reason=reason,
        expected_production=current,
    )
    mitigated = _incidents_mitigate(actor, model, incidents, transition, current, target)
    audit_record(
        actor=actor,
        action="incident.rolled_back",
        target=model,
        model_name=model.name,
        data={
            "from": current.number,
            "to": target.number,
            "reason": reason,
            **({"incident": incident.pk} if incident is not None else {}),
            **({"mitigated": [each.pk for each in mitigated]} if mitigated else {}),
        },
    )
    return transition


def _incidents_lock(model, incident) -> list[Incident]:
    """The incidents a rollback of `model` mitigates, locked: every one about `model` that is firing, and
    the one the responder came from if no rollback answered it yet. In pk order, after the model row, before
    any audit event: the order alert deliveries take the same rows in."""
    scope = Q(model=model, status=IncidentStatus.FIRING)
    if incident is not None:
        scope |= Q(pk=incident.pk, rollback__isnull=True)
    return list(Incident.objects.select_for_update().filter(scope).order_by("pk"))


def _incidents_mitigate(actor, model, rows, transition, current, target) -> list[Incident]:
    """Every firing incident about `model` becomes mitigated by this rollback, on the record: the rollback
    answers the model's trouble, whichever of its alerts the responder came from. The alerts may go on
    firing until the alerting system sees the effect; only its "resolved" closes an incident.

    An incident already mitigated keeps the rollback that first mitigated it (`_incidents_lock` leaves it
    out); a resolved one the responder named is linked to the rollback but stays resolved."""
    mitigated = []
    for row in rows:
        row.rollback, row.rolled_back_by, row.rolled_back_from = transition, actor, current
        fields = ["rollback", "rolled_back_by", "rolled_back_from"]
        if row.status == IncidentStatus.FIRING:
            row.status, row.mitigated_at = IncidentStatus.MITIGATED, transition.created_at
            fields += ["status", "mitigated_at"]
            mitigated.append(row)
        row.save(update_fields=fields)
    for row in mitigated:
        audit_record(
            actor=actor,
            action="incident.mitigated",
            target=row,
            model_name=model.name,
            data={
                "from": current.number,
                "to": target.number,
                "by": "rollback",
                "fingerprint": row.fingerprint,
                "alertname": row.alertname,
            },
        )
    return mitigated


def _already_changed(model, expected, current) -> Conflict:
    """The Conflict for a responder who acted on a production version that is no longer there."""
    last = (
        StageTransition.objects.filter(model=model, version=expected, from_stage=Stage.PRODUCTION)
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    now_in = f"v{current.number}" if current is not None else "nothing"
    if last is not None and last.kind == TransitionKind.ROLLED_BACK:
        return Conflict(
            f"Already rolled back: {last.actor.get_username()} rolled v{expected.number} back at "
            f"{last.created_at:%Y-%m-%d %H:%M:%S} UTC; {now_in} is in production now."
            if current is not None
            else f"Already rolled back by {last.actor.get_username()}; nothing is in production now.",
            code="already_rolled_back",
        )
    return Conflict(
        f"Production changed since you looked: {now_in} is in production now, not v{expected.number}. "
        "Look again before rolling back.",
        code="production_changed",
    )
