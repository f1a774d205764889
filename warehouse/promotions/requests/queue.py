"""The reviewer queue: the requests awaiting a person's sign-off, and their own requests. Who may sign is
decided in SQL, so a page of the queue is one indexed read whatever the number of requests and models."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from warehouse.accounts.permissions import model_permission_held, models_visible_to, permissions_on_models
from warehouse.promotions.models import PolicyRevision, PromotionRequest, RequestState, SignOff
from warehouse.promotions.policies.rules import revision_section
from warehouse.promotions.requests.selectors import (
    _SIGNERS,
    REQUESTS_SHOWN,
    SIGNOFF_PERMISSION,
    _bind,
    _request_queryset,
)
from warehouse.registry.models import RegisteredModel, Stage


@dataclass(frozen=True)
class ReviewQueue:
    awaiting_me: list[PromotionRequest]  # oldest first, at most `limit`
    mine: list[PromotionRequest]  # newest first
    limit: int = REQUESTS_SHOWN
    more_awaiting: bool = False  # more than `limit` await: the page says "50+", never a wrong total


def _signoff_permissions_by_section() -> dict[tuple[int, str], set[str]]:
    """For each (policy revision, target stage) that some request awaiting sign-off was gated under, the
    permissions that make someone eligible to sign it. Read from the revisions in use (few: policies change
    rarely), each found through the gate runs' index, never by reading every request."""
    awaiting_under = PromotionRequest.objects.filter(
        state=RequestState.AWAITING_SIGNOFF, gate_run__policy_revision=OuterRef("pk")
    )
    sections = {}
    for revision in PolicyRevision.objects.filter(Exists(awaiting_under)):
        for stage in (Stage.STAGING, Stage.PRODUCTION):
            rules = revision_section(revision, stage)
            roles = rules.signoffs.roles if rules is not None else ()
            sections[(revision.pk, stage.value)] = {SIGNOFF_PERMISSION[role] for role in roles}
    return sections


def _eligible_to_sign(user) -> Q:
    """The requests `user` holds a role for (one the policy of the request's gate run names), org-wide or
    on the request's model: the queue's filter, in SQL, so that a page of the queue is one indexed read."""
    if user.is_superuser:
        return Q()
    eligible = Q(pk__in=[])  # nothing awaits: Django then asks the database nothing
    sections = _signoff_permissions_by_section()
    if not sections:
        return eligible
    _, org_wide = permissions_on_models(user, [])
    for (revision_id, stage), permissions in sections.items():
        section = Q(gate_run__policy_revision_id=revision_id, target_stage=stage)
        if permissions & org_wide:
            eligible |= section
        for permission in permissions - org_wide:
            eligible |= section & model_permission_held(user, permission, model=OuterRef("model_id"))
    return eligible


def review_queue(*, user, limit: int = REQUESTS_SHOWN) -> ReviewQueue:
    """Requests awaiting `user`'s sign-off (gate passed, `user` holds a role the policy names on that
    model, did not ask for it nor register the version, has not signed yet), oldest first, and `user`'s own
    open and recent requests. A fixed number of queries, each reading one page, whatever the number of
    requests and models."""
    visible = models_visible_to(user, RegisteredModel.objects.all())
    awaiting = _bind(
        list(
            _request_queryset()
            .filter(state=RequestState.AWAITING_SIGNOFF, model__in=visible)
            .filter(_eligible_to_sign(user))
            .exclude(requested_by=user)
            .exclude(version__registered_by=user)
            .exclude(Exists(SignOff.objects.filter(request=OuterRef("pk"), signer=user)))
            .order_by("created_at", "pk")[: limit + 1]
        )
    )
    mine = _bind(
        list(
            _request_queryset()
            .filter(requested_by=user, model__in=visible)
            .prefetch_related(_SIGNERS)
            .order_by("-created_at", "-pk")[:limit]
        )
    )
    return ReviewQueue(
        awaiting_me=awaiting[:limit], mine=mine, limit=limit, more_awaiting=len(awaiting) > limit
    )


def review_queue_count(*, user) -> int:
    """How many requests await `user`'s sign-off: the number the home page and the menu show."""
    return len(review_queue(user=user, limit=REQUESTS_SHOWN).awaiting_me)
