"""Reads for the webhook pages. Each runs a fixed number of queries, whatever the number of deliveries."""

from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.db.models import Count, Exists, Max, Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from warehouse.accounts.permissions import model_access, models_visible_to, permission_denied
from warehouse.registry.models import RegisteredModel
from warehouse.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription

DELIVERIES_SHOWN = 50
MANAGE_PERMISSION = "registry.admin_policy"


def models_managed_by(*, user) -> QuerySet[RegisteredModel]:
    """The models whose webhooks `user` may manage: those they see and whose promotion policy they may
    edit, through a role (org-wide) or on the model itself. One lazy query."""
    models = RegisteredModel.objects.order_by("name")
    if not user.is_authenticated or not user.is_active:
        return models.none()
    if user.is_superuser:
        return models
    app_label, codename = MANAGE_PERMISSION.split(".")
    org_wide = Permission.objects.filter(
        Q(user=user) | Q(group__user=user), content_type__app_label=app_label, codename=codename
    )
    on_model = get_objects_for_user(user, MANAGE_PERMISSION, klass=RegisteredModel, accept_global_perms=False)
    return models_visible_to(user, models).filter(Exists(org_wide) | Q(pk__in=on_model.values("pk")))


def subscription_list_for_user(*, user) -> QuerySet[WebhookSubscription]:
    """The subscriptions `user` may manage (a superuser: all), each with its deliveries counted by state,
    in one query."""
    subscriptions = WebhookSubscription.objects.select_related("model", "created_by")
    if not (user.is_authenticated and user.is_active and user.is_superuser):
        subscriptions = subscriptions.filter(model__in=models_managed_by(user=user))
    return subscriptions.annotate(
        delivered_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.DELIVERED)),
        failed_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.FAILED)),
        open_count=Count(
            "deliveries",
            filter=Q(
                deliveries__state__in=[DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING]
            ),
        ),
        last_delivery_at=Max("deliveries__created_at"),
    ).order_by("-active", "-created_at", "-pk")


def subscription_get_for_user(*, user, subscription_id: int) -> WebhookSubscription:
    """The subscription if `user` may manage it. One of a model they cannot see is a 404, exactly as if it
    did not exist; one they see but may not manage is refused (403, on the record)."""
    subscription = (
        WebhookSubscription.objects.select_related("model", "created_by").filter(pk=subscription_id).first()
    )
    if subscription is None:
        raise Http404("No such webhook.")
    attempted = f"manage webhook {subscription.pk}"
    if subscription.model_id is None:
        if not user.is_superuser:
            raise permission_denied(actor=user, target=None, permission="superuser", attempted=attempted)
        return subscription
    access = model_access(user, subscription.model)
    if not access.can_view:
        raise Http404("No such webhook.")
    access.require(MANAGE_PERMISSION, attempted=attempted)
    return subscription


def delivery_get(*, subscription: WebhookSubscription, delivery_uuid) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(subscription=subscription, uuid=delivery_uuid).first()
    if delivery is None:
        raise Http404("No such delivery.")
    delivery.subscription = subscription
    return delivery


@dataclass(frozen=True)
class SubscriptionPage:
    subscription: WebhookSubscription
    deliveries: list[WebhookDelivery]
    counts: dict[str, int]
    limit: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        return self.total > len(self.deliveries)


def subscription_page(
    *, subscription: WebhookSubscription, limit: int = DELIVERIES_SHOWN
) -> SubscriptionPage:
    """The subscription and its latest deliveries (without their bodies), with all deliveries counted by
    state: two queries."""
    deliveries = list(
        WebhookDelivery.objects.filter(subscription=subscription)
        .defer("body")
        .order_by("-created_at", "-pk")[:limit]
    )
    for delivery in deliveries:
        delivery.subscription = subscription
    by_state = dict(
        WebhookDelivery.objects.filter(subscription=subscription)
        .order_by()
        .values_list("state")
        .annotate(count=Count("pk"))
    )
    counts = {state: by_state.get(state, 0) for state in DeliveryState.values}
    return SubscriptionPage(subscription=subscription, deliveries=deliveries, counts=counts, limit=limit)
