"""Every write about promotion policies: the global default's first revision, and new revisions.

A new revision supersedes the open requests whose move it changes: their gate ran under rules that no
longer apply. Requests for a move whose rules stay the same keep their gate run and their sign-offs.
"""

from collections.abc import Collection

from django.db import IntegrityError, transaction
from django.db.models import F, Max

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.audit.services import audit_record
from warehouse.errors import InvalidInput
from warehouse.promotions.models import PolicyRevision, PromotionPolicy, PromotionRequest
from warehouse.promotions.policies.impact import open_requests_under, requests_superseded_by
from warehouse.promotions.policies.rules import DEFAULT_RULES, policy_parse
from warehouse.promotions.requests.lifecycle import promotion_request_supersede
from warehouse.registry.models import RegisteredModel, Stage


def _global_policy_locked() -> PromotionPolicy:
    """The global default policy, locked; written with the built-in rules the first time it is needed."""
    policy = PromotionPolicy.objects.select_for_update().filter(model__isnull=True).first()
    if policy is not None:
        return policy
    # There is no row to lock yet, so two first uses can both get here: the unique constraint lets one
    # create it, and makes the other wait for that one's commit and then fail, in a savepoint, and read it.
    try:
        with transaction.atomic():
            policy = PromotionPolicy.objects.create(model=None)
    except IntegrityError:
        return PromotionPolicy.objects.select_for_update().get(model__isnull=True)
    revision = PolicyRevision.objects.create(
        policy=policy,
        number=1,
        rules=DEFAULT_RULES.as_data(),
        reason="The warehouse's built-in default.",
        author=None,
        created_at=clock.now(),
    )
    policy.current = revision
    policy.save(update_fields=["current"])
    audit_record(
        actor=None, action="policy.revised", target=revision, data={"scope": "global", "revision": 1}
    )
    return policy


def policy_in_force(*, model: RegisteredModel) -> PolicyRevision:
    """The revision that applies to `model` now: its own policy's, else the global default's."""
    own = PolicyRevision.objects.filter(policy__model=model, policy__current=F("pk")).first()
    if own is not None:
        return own
    default = PolicyRevision.objects.filter(policy__model__isnull=True, policy__current=F("pk")).first()
    if default is not None:
        return default
    # Only the very first use writes (and locks) the global default.
    with transaction.atomic():
        return PolicyRevision.objects.select_related("policy").get(pk=_global_policy_locked().current_id)


def _require_policy_admin(actor, model: RegisteredModel | None) -> None:
    if model is None:
        if not actor.is_superuser:
            raise permission_denied(
                actor=actor, target=None, permission="superuser", attempted="edit the global promotion policy"
            )
    else:
        model_access(actor, model).require(
            "registry.admin_policy", attempted=f"edit the promotion policy of {model.name}"
        )


def _rules_and_reason(rules_data, reason: str):
    """The rules and the reason, or InvalidInput naming every problem with either."""
    errors, rules = {}, None
    try:
        rules = policy_parse(rules_data)
    except InvalidInput as error:
        errors.update(error.errors)
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["Say why the policy changes: reviewers read it next to every gate run."]
    elif len(reason) > 2000:
        errors["reason"] = ["At most 2000 characters."]
    if errors:
        raise InvalidInput(errors, "The policy has errors; no revision was saved.")
    return rules, reason


def _policy_locked(model: RegisteredModel | None) -> tuple[PromotionPolicy, list[int]]:
    """The policy to revise and the models it applies to, their rows locked (in the transaction)."""
    if model is None:
        policy = _global_policy_locked()
        # Every model still on the default is affected: their rows first, in one order, before the audit
        # chain (the lock order of every stage change).
        affected = list(
            RegisteredModel.objects.select_for_update(of=("self",))
            .filter(promotion_policy__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return policy, affected
    RegisteredModel.objects.select_for_update().get(pk=model.pk)
    policy, _ = PromotionPolicy.objects.get_or_create(model=model)
    return policy, [model.pk]


class UnseenSupersessions(Exception):
    """The save would supersede open requests that the person saving was not shown: one opened after the
    warning was read. Nothing was saved; `requests` is what the save would supersede now."""

    def __init__(self, requests: list[PromotionRequest]):
        super().__init__(f"Saving now would supersede {len(requests)} open request(s) you were not shown.")
        self.requests = requests


def policy_revise(
    *,
    actor,
    model: RegisteredModel | None,
    rules_data,
    reason: str,
    acknowledged: Collection[int] | None = None,
) -> PolicyRevision:
    """Save new rules as the next revision of `model`'s policy (None: the global default), and supersede
    the open requests whose move the new rules change. Returns the revision, carrying the requests it
    superseded as `superseded_requests` (not stored: the audit event lists them).

    Needs the policy admin permission on the model; the global default needs a superuser. With
    `acknowledged` (the ids of the requests the person was warned about), a save that would supersede any
    other request raises UnseenSupersessions and saves nothing.
    """
    _require_policy_admin(actor, model)
    rules, reason = _rules_and_reason(rules_data, reason)
    with transaction.atomic():
        policy, affected = _policy_locked(model)
        open_requests = (
            open_requests_under(model).select_for_update(of=("self",)).filter(model_id__in=affected)
        )
        stale = requests_superseded_by(open_requests, rules)
        if acknowledged is not None and any(promotion.pk not in acknowledged for promotion in stale):
            raise UnseenSupersessions(stale)
        number = (policy.revisions.aggregate(last=Max("number"))["last"] or 0) + 1
        revision = PolicyRevision.objects.create(
            policy=policy,
            number=number,
            rules=rules.as_data(),
            reason=reason,
            author=actor,
            created_at=clock.now(),
        )
        policy.current = revision
        policy.save(update_fields=["current"])
        audit_record(
            actor=actor,
            action="policy.revised",
            target=revision,
            model_name=model.name if model else "",
            data={
                "scope": model.name if model else "global",
                "revision": number,
                "reason": reason,
                "superseded": [promotion.pk for promotion in stale],
            },
        )
        for promotion in stale:
            move = f"{Stage(promotion.version.stage).label} → {Stage(promotion.target_stage).label}"
            promotion_request_supersede(
                promotion=promotion,
                why=f"The promotion policy changed its rules for {move} (revision {number}: {reason}) while "
                "this request was open. Ask again: a new gate run under the new rules is needed.",
            )
    revision.superseded_requests = stale
    return revision
