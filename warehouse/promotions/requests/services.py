"""Every write about promotion requests but sign-off: asking for a promotion, withdrawing it, running its
gate again, and archiving a version. A request's life, its supersession and the lock order are told in
`lifecycle`; sign-offs are written in `signoffs`."""

from django.db import transaction

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.promotions.gates.services import gate_run_create
from warehouse.promotions.models import OPEN_REQUEST_STATES, PromotionRequest, RequestState
from warehouse.promotions.policies.rules import NEXT_STAGE, SECTION_FOR_TARGET
from warehouse.promotions.policies.services import policy_in_force
from warehouse.promotions.requests.lifecycle import promotion_request_gate_finished
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.text import is_encodable, text_problem

JUSTIFICATION_MAX = 5000


def justification_problem(value, *, required: str, max_length: int = JUSTIFICATION_MAX) -> str:
    """What is wrong with a written reason (a justification, a comment), or ""."""
    return text_problem(value, required=required, max_length=max_length)


def refusal_record(*, actor, action: str, promotion_or_version, refusal: Conflict, **data) -> None:
    """Put a refused request write on the record, after its transaction rolled back."""
    version = (
        promotion_or_version.version
        if isinstance(promotion_or_version, PromotionRequest)
        else promotion_or_version
    )
    audit_record(
        actor=actor,
        action=action,
        target=promotion_or_version,
        target_label=version.identifier,
        model_name=version.model.name,
        data={"code": refusal.code, "message": refusal.message, **data},
    )


def promotion_request_lock(*, promotion: PromotionRequest) -> PromotionRequest:
    """The request read again under lock, holding its model row first (the lock order of stage changes)."""
    RegisteredModel.objects.select_for_update().get(pk=promotion.model_id)
    return (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("version__model", "gate_run__policy_revision", "gate_run__baseline", "requested_by")
        .get(pk=promotion.pk)
    )


def promotion_request_open(
    *, actor, version: ModelVersion, target_stage: Stage | str, justification: str
) -> PromotionRequest:
    """Ask for `version` to move up to `target_stage`: write the request and its gate run, queue the run.

    One open request per version and target stage. Needs the request permission on the model.
    """
    model = version.model
    model_access(actor, model).require(
        "registry.request_promotion", attempted=f"request promotion of {version.identifier}"
    )
    errors = {}
    target = Stage(target_stage) if target_stage in Stage.values else None
    if target not in SECTION_FOR_TARGET:
        errors["target_stage"] = ["Promotion goes to Staging (from Draft) or to Production (from Staging)."]
    problem = justification_problem(
        justification, required="Say why this version should move up: reviewers read it first."
    )
    if problem:
        errors["justification"] = [problem]
    if errors:
        raise InvalidInput(errors, "The request has errors; nothing was saved.")
    revision = policy_in_force(model=model)
    try:
        with transaction.atomic():
            return _promotion_request_create(actor, version, target, justification.strip(), revision)
    except Conflict as refusal:
        refusal_record(
            actor=actor,
            action="promotion.refused",
            promotion_or_version=version,
            refusal=refusal,
            target_stage=target.value,
        )
        raise


def _promotion_request_create(actor, version, target, justification, revision) -> PromotionRequest:
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    stage = ModelVersion.objects.values_list("stage", flat=True).get(pk=version.pk)
    if NEXT_STAGE.get(stage) != target:
        raise Conflict(
            f"{version.identifier} is in {Stage(stage).label}: promotion to {target.label} is not the next "
            "step. Draft goes to Staging, and Staging to Production.",
            code="not_next_stage",
        )
    already = PromotionRequest.objects.filter(
        version=version, target_stage=target, state__in=OPEN_REQUEST_STATES
    ).first()
    if already is not None:
        raise Conflict(
            f"Request #{already.pk} to move {version.identifier} to {target.label} is already open "
            f"({RequestState(already.state).label.lower()}).",
            code="request_open",
        )
    run = gate_run_create(actor=actor, version=version, target_stage=target, revision=revision)
    promotion = PromotionRequest.objects.create(
        model_id=version.model_id,
        version=version,
        from_stage=stage,
        target_stage=target,
        justification=justification,
        requested_by=actor,
        created_at=clock.now(),
        gate_run=run,
    )
    audit_record(
        actor=actor,
        action="promotion.requested",
        target=promotion,
        target_label=version.identifier,
        model_name=version.model.name,
        data={
            "promotion_request": promotion.pk,
            "version": version.number,
            "from": stage,
            "to": target.value,
            "gate_run": run.pk,
            "justification": justification,
        },
    )
    if not run.is_open:
        promotion_request_gate_finished(promotion=promotion, run=run)
    return promotion


def promotion_request_cancel(*, actor, promotion: PromotionRequest, reason: str = "") -> PromotionRequest:
    """Withdraw an open request. The requester may, and so may a superuser."""
    if actor.pk != promotion.requested_by_id and not actor.is_superuser:
        raise permission_denied(
            actor=actor,
            target=promotion.model,
            permission="requester",
            attempted=f"cancel request #{promotion.pk}, which someone else asked for",
        )
    if reason is not None and (not isinstance(reason, str) or "\x00" in reason or not is_encodable(reason)):
        raise InvalidInput(
            {"reason": ["Must be text, without NUL characters or lone surrogates."]}, "Nothing was cancelled."
        )
    reason = (reason or "").strip()[:2000] or "Withdrawn by the requester."
    try:
        with transaction.atomic():
            locked = promotion_request_lock(promotion=promotion)
            if not locked.is_open:
                raise Conflict(
                    f"Request #{locked.pk} is already {RequestState(locked.state).label.lower()}.",
                    code="request_closed",
                )
            locked.state = RequestState.CANCELLED
            locked.closed_at, locked.closed_by, locked.closed_reason = clock.now(), actor, reason
            locked.save(update_fields=["state", "closed_at", "closed_by", "closed_reason"])
            audit_record(
                actor=actor,
                action="promotion.cancelled",
                target=locked,
                target_label=locked.version.identifier,
                model_name=locked.version.model.name,
                data={"promotion_request": locked.pk, "reason": reason},
            )
            return locked
    except Conflict as refusal:
        refusal_record(
            actor=actor, action="promotion.refused", promotion_or_version=promotion, refusal=refusal
        )
        raise


def promotion_request_recheck(*, actor, promotion: PromotionRequest) -> PromotionRequest:
    """Run the gate again for a request whose checks failed (after the card was completed, say).
    Sign-offs bind to the gate run they looked at, so only those given on the new run count."""
    model_access(actor, promotion.model).require(
        "registry.request_promotion", attempted=f"run the gate again for request #{promotion.pk}"
    )
    revision = policy_in_force(model=promotion.model)
    try:
        with transaction.atomic():
            locked = promotion_request_lock(promotion=promotion)
            if locked.state != RequestState.CHECKS_FAILED:
                raise Conflict(
                    f"Request #{locked.pk} is {RequestState(locked.state).label.lower()}: "
                    "the gate runs again only after its checks failed.",
                    code="not_checks_failed",
                )
            run = gate_run_create(
                actor=actor,
                version=locked.version,
                target_stage=Stage(locked.target_stage),
                revision=revision,
            )
            locked.gate_run, locked.state = run, RequestState.CHECKING
            locked.save(update_fields=["gate_run", "state"])
            audit_record(
                actor=actor,
                action="promotion.rechecked",
                target=locked,
                target_label=locked.version.identifier,
                model_name=locked.version.model.name,
                data={"promotion_request": locked.pk, "gate_run": run.pk},
            )
            if not run.is_open:
                promotion_request_gate_finished(promotion=locked, run=run)
            return locked
    except Conflict as refusal:
        refusal_record(
            actor=actor, action="promotion.refused", promotion_or_version=promotion, refusal=refusal
        )
        raise


def version_archive(*, actor, version: ModelVersion, reason: str):
    """Retire a version. Archiving the production version needs the approver's permission and leaves
    nothing in production; its open requests, and the model's requests to Production, are superseded."""
    from warehouse.registry.services import version_transition

    access = model_access(actor, version.model)
    access.require("registry.archive_version", attempted=f"archive {version.identifier}")
    if version.stage == Stage.PRODUCTION:
        access.require(
            "registry.archive_production",
            attempted=f"archive {version.identifier}, the production version of {version.model.name}",
        )
    problem = justification_problem(reason, required="Say why the version is retired.", max_length=2000)
    if problem:
        raise InvalidInput({"reason": [problem]}, "Nothing was archived.")
    try:
        with transaction.atomic():
            RegisteredModel.objects.select_for_update().get(pk=version.model_id)
            from_stage = Stage(ModelVersion.objects.values_list("stage", flat=True).get(pk=version.pk))
            if from_stage == Stage.PRODUCTION and version.stage != Stage.PRODUCTION:
                # Promoted since the page was read: the production permission was not checked.
                raise Conflict(
                    f"{version.identifier} is in Production now; look again before archiving it.",
                    code="stage_changed",
                )
            return version_transition(
                version=version, to_stage=Stage.ARCHIVED, actor=actor, reason=reason.strip()
            )
    except Conflict as refusal:
        # Every refusal, not only ours: the one version_transition wrote went with this transaction.
        refusal_record(
            actor=actor,
            action="version.stage_change_refused",
            promotion_or_version=version,
            refusal=refusal,
            to=Stage.ARCHIVED.value,
        )
        raise
