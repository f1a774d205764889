"""Reads about promotion policies, shaped for pages and the API: a policy's page, its revisions, the
revision in force and what a card must hold under it. Each runs a fixed number of queries, whatever the
number of revisions."""

from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404
from django.urls import reverse

from warehouse.accounts.permissions import models_visible_to
from warehouse.errors import InvalidInput
from warehouse.promotions.models import PolicyRevision, PromotionPolicy, PromotionRequest
from warehouse.promotions.policies.impact import open_requests_under, requests_superseded_by
from warehouse.promotions.policies.rules import (
    NEXT_STAGE,
    PolicyRules,
    policy_parse,
    policy_warnings,
    revision_section,
)
from warehouse.promotions.policies.services import policy_in_force
from warehouse.registry.models import EvaluationMetric, ModelVersion, RegisteredModel, SliceMetric, Stage

REVISIONS_SHOWN = 100


@dataclass(frozen=True)
class PolicyPage:
    model: RegisteredModel | None  # None: the global default's page
    in_force: PolicyRevision  # the revision that applies now (the model's own, or the global default's)
    own: PromotionPolicy | None  # the policy this page edits: the model's (None until it has one) or global
    revisions: list[PolicyRevision]  # of `own`, newest first
    viewed: PolicyRevision  # the revision shown (in force, unless one was asked for)
    viewed_rules: PolicyRules | None  # None when a stored revision no longer parses
    warnings: list[str]
    previous: PolicyRevision | None = None  # the revision of the same policy before `viewed`
    revisions_limit: int = REVISIONS_SHOWN

    @property
    def uses_global_default(self) -> bool:
        return self.model is not None and self.in_force.policy.model_id is None

    @property
    def viewing_in_force(self) -> bool:
        return self.viewed.pk == self.in_force.pk

    @property
    def revisions_truncated(self) -> bool:
        return len(self.revisions) >= self.revisions_limit

    @property
    def previous_rules(self) -> PolicyRules | None:
        return _rules_or_none(self.previous) if self.previous is not None else None


def _known_names(models_queryset) -> tuple[set[str], set[str]]:
    """The metric and slice names the versions of these models report: two queries."""
    metrics = set(
        EvaluationMetric.objects.filter(report__version__model__in=models_queryset)
        .values_list("name", flat=True)
        .distinct()
        .order_by()
    )
    slices = set()
    for key, metric in (
        SliceMetric.objects.filter(report__version__model__in=models_queryset)
        .values_list("slice_key", "metric")
        .distinct()
        .order_by()
    ):
        slices.add(key)
        metrics.add(metric)
    return metrics, slices


def _rules_or_none(revision: PolicyRevision) -> PolicyRules | None:
    try:
        return policy_parse(revision.rules)
    except InvalidInput:
        return None


def _policies_for(model: RegisteredModel | None) -> tuple[PromotionPolicy | None, PromotionPolicy]:
    """The model's own policy (None if it has none) and the global default, in one query; the global
    default is written the first time anyone needs it."""
    scope = Q(model__isnull=True) | (Q(model=model) if model is not None else Q(pk__in=[]))
    for _ in range(2):
        policies = {
            policy.model_id: policy
            for policy in PromotionPolicy.objects.filter(scope).select_related(
                "current__author", "current__policy"
            )
        }
        global_policy = policies.get(None)
        if global_policy is not None and global_policy.current is not None:
            own = policies.get(model.pk) if model is not None else None
            if own is not None:
                own.model = model
                if own.current is not None:
                    own.current.policy = own
            return own, global_policy
        # Only ever once per installation: the first reader has the service write the built-in default
        # (asked about no model, it looks for the global default's revision and writes it if missing).
        policy_in_force(model=None)
    raise RuntimeError("The global default policy could not be read.")


def policy_page(*, model: RegisteredModel | None, user, revision_number: int | None = None) -> PolicyPage:
    """A model's policy page (or, with `model` None, the global default's): the revision in force, the
    history of the policy the page edits, the revision asked for, and warnings about names no version
    reports. A fixed number of queries: policies, revisions, (the revision asked for when it is older than
    the history shown), metric names, slice names."""
    own, global_policy = _policies_for(model)
    if model is None:
        own = global_policy
    in_force = own.current if own is not None and own.current is not None else global_policy.current
    revisions = []
    if own is not None:
        revisions = list(own.revisions.select_related("author").order_by("-number")[:REVISIONS_SHOWN])
        for revision in revisions:
            revision.policy = own
    viewed = in_force
    if revision_number is not None:
        viewed = next((r for r in revisions if r.number == revision_number), None)
        if viewed is None and own is not None:
            viewed = own.revisions.select_related("author").filter(number=revision_number).first()
        if viewed is None:
            raise Http404("No such policy revision.")
        viewed.policy = own
    viewed_rules = _rules_or_none(viewed)
    warnings = policy_warnings_read(rules=viewed_rules, model=model, user=user)
    return PolicyPage(
        model=model,
        in_force=in_force,
        own=own,
        revisions=revisions,
        viewed=viewed,
        viewed_rules=viewed_rules,
        warnings=warnings,
        previous=_previous_revision(own, revisions, viewed, global_policy.current),
    )


def _previous_revision(
    own, revisions: list[PolicyRevision], viewed: PolicyRevision, global_current: PolicyRevision
) -> PolicyRevision | None:
    """The revision before `viewed` in the same policy: from the history already read, or (past the history
    shown) one query. A model's first revision of its own follows the global default's revision that was in
    force when it was saved (one query when the global default changed since)."""
    if own is None or viewed.policy_id != own.pk:
        return None
    if viewed.number <= 1:
        if own.model_id is None:
            return None
        # The usual case: the global default has not changed since. Its first revision is the built-in
        # default, written when first needed, which applied before it was written too.
        if global_current.created_at <= viewed.created_at or global_current.number == 1:
            return global_current
        return (
            PolicyRevision.objects.filter(policy__model__isnull=True, created_at__lte=viewed.created_at)
            .select_related("policy")
            .order_by("-number")
            .first()
        )
    previous = next((r for r in revisions if r.number < viewed.number), None)
    if previous is None and len(revisions) >= REVISIONS_SHOWN:
        previous = own.revisions.filter(number__lt=viewed.number).order_by("-number").first()
    if previous is not None:
        previous.policy = own
    return previous


def policy_change_preview(*, model: RegisteredModel | None, rules_data) -> list[PromotionRequest]:
    """The open requests that saving `rules_data` as the policy's next revision would supersede: those whose
    move it changes (what `policy_revise` closes). Raises InvalidInput when the rules do not parse."""
    return requests_superseded_by(open_requests_under(model), policy_parse(rules_data))


def policy_warnings_read(*, rules: PolicyRules | None, model: RegisteredModel | None, user) -> list[str]:
    """Names `rules` use that no version reports: of `model`, or, for the global default, of the models
    `user` can see. Two queries."""
    if rules is None:
        return []
    if model is not None:
        scope = RegisteredModel.objects.filter(pk=model.pk)
    else:
        scope = models_visible_to(user, RegisteredModel.objects.all())
    known_metrics, known_slices = _known_names(scope)
    return policy_warnings(rules, known_metrics=known_metrics, known_slices=known_slices)


def policy_revision_get(*, model: RegisteredModel | None, number: int) -> PolicyRevision:
    """Revision `number` of the model's own policy (or of the global default): 404 if there is none."""
    scope = Q(policy__model=model) if model is not None else Q(policy__model__isnull=True)
    revision = PolicyRevision.objects.filter(scope, number=number).select_related("policy", "author").first()
    if revision is None:
        raise Http404("No such policy revision.")
    if model is not None:
        revision.policy.model = model
    return revision


def policy_in_force_read(*, model: RegisteredModel | None) -> PolicyRevision:
    """The revision that applies to `model` now (or the global default's), read without locking."""
    own, global_policy = _policies_for(model)
    if own is not None and own.current is not None:
        return own.current
    return global_policy.current


def policy_page_url(revision: PolicyRevision) -> str:
    """The policy page showing `revision`, at its anchor."""
    policy = revision.policy
    if policy.model_id is None:
        base = reverse("promotions:global-policy")
    else:
        base = reverse("promotions:policy", args=[policy.model.name])
    return f"{base}?revision={revision.number}#revision-{revision.number}"


def policy_revision_document(revision: PolicyRevision) -> dict:
    """A revision as a JSON document (the page's download; the API adds its links). Needs the revision
    fetched with its policy, the policy's model and its author."""
    return {
        "scope": revision.policy.model.name if revision.policy.model_id else "global",
        "number": revision.number,
        "author": revision.author.get_username() if revision.author_id else None,
        "created_at": revision.created_at.isoformat(),
        "reason": revision.reason,
        "rules": revision.rules,
    }


# --- What a card must hold ------------------------------------------------------------------------------


def card_required_sections(*, version: ModelVersion) -> tuple[tuple[str, ...], str]:
    """The card sections the policy in force requires for `version`'s next move up (for a version already
    in Production or Archived, those of the move to Production), and where the rule comes from. Named by
    `settings.CARD_REQUIRED_SECTIONS` for the card pages."""
    target = NEXT_STAGE.get(version.stage, Stage.PRODUCTION)
    revision = policy_in_force_read(model=version.model)
    rules = revision_section(revision, target)
    if rules is None:
        from warehouse.cards.selectors import DEFAULT_REQUIRED_SECTIONS

        return DEFAULT_REQUIRED_SECTIONS, "the default list (the policy in force could not be read)"
    source = revision.policy.model.name if revision.policy.model_id else "the global default"
    source_stage = Stage(version.stage).label if version.stage in NEXT_STAGE else "Staging"
    where = f"the promotion policy ({source}, r{revision.number}) for {source_stage} → {Stage(target).label}"
    return tuple(rules.required_card_sections), where
