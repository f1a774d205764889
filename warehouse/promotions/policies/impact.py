"""What a new policy revision would do to the requests already open under the policy: it supersedes those
whose move it changes, and only those. Shared by the policy page's warning before saving and the service
that saves, so that the warning lists exactly what the save closes."""

from django.db.models import QuerySet

from warehouse.promotions.models import OPEN_REQUEST_STATES, PolicyRevision, PromotionRequest
from warehouse.promotions.policies.rules import PolicyRules, SectionRules, revision_section
from warehouse.registry.models import RegisteredModel


def section_changed(revision: PolicyRevision, target_stage: str, now: SectionRules | None) -> bool:
    """Whether `now` (the rules for the move to `target_stage`; None when they cannot be read) asks anything
    other than `revision` did of that move: a request judged under `revision` is stale only then. A
    revision that no longer parses counts as changed."""
    return now is None or revision_section(revision, target_stage) != now


def open_requests_under(model: RegisteredModel | None) -> QuerySet[PromotionRequest]:
    """The open requests a revision of this policy applies to: the model's own, or (None) those of every
    model still on the global default. Oldest first."""
    scope = {"model": model} if model is not None else {"model__promotion_policy__isnull": True}
    return (
        PromotionRequest.objects.filter(state__in=OPEN_REQUEST_STATES, **scope)
        .select_related("version__model", "requested_by", "gate_run__policy_revision")
        .order_by("pk")
    )


def requests_superseded_by(requests, rules: PolicyRules) -> list[PromotionRequest]:
    """Of `requests`, those whose gate ran (or will have run) under rules for their move that `rules`
    change. A request whose move is untouched keeps its gate run and its sign-offs."""
    return [
        promotion
        for promotion in requests
        if section_changed(
            promotion.gate_run.policy_revision,
            promotion.target_stage,
            rules.for_target(promotion.target_stage),
        )
    ]
