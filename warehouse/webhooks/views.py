"""Webhook pages. Thin: get the subscription for this user (404 or 403), call one service or read a
selector, render or redirect."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.selectors import model_get_for_user
from warehouse.webhooks.forms import SubscriptionForm
from warehouse.webhooks.models import DeliveryState, WebhookEvent
from warehouse.webhooks.selectors import (
    delivery_get,
    models_managed_by,
    subscription_get_for_user,
    subscription_list_for_user,
    subscription_page,
)
from warehouse.webhooks.services import delivery_redeliver, subscription_create, subscription_deactivate


def _secret_key(subscription_id: int) -> str:
    return f"webhook-secret-{subscription_id}"


@login_required
@require_http_methods(["GET", "POST"])
def subscription_list(request):
    """The subscriptions this person manages, and the form to make one."""
    model_names = list(models_managed_by(user=request.user).values_list("name", flat=True))
    allow_global = request.user.is_superuser
    form = SubscriptionForm(request.POST or None, model_names=model_names, allow_global=allow_global)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            name = form.cleaned_data["model"]
            model = model_get_for_user(user=request.user, name=name) if name else None
            try:
                subscription, secret = subscription_create(
                    actor=request.user,
                    model=model,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
            except InvalidInput as error:
                form.add_service_errors(error.errors)
            else:
                # Shown once, on the next page: popped from the session when it is read.
                request.session[_secret_key(subscription.pk)] = secret
                return redirect("webhooks:subscription", subscription.pk)
        status = 400
    return render(
        request,
        "webhooks/list.html",
        {
            "subscriptions": subscription_list_for_user(user=request.user),
            "form": form,
            "can_create": allow_global or bool(model_names),
            "event_choices": WebhookEvent.choices,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def subscription_detail(request, subscription_id: int):
    subscription = subscription_get_for_user(user=request.user, subscription_id=subscription_id)
    secret = request.session.pop(_secret_key(subscription.pk), None)
    response = render(
        request,
        "webhooks/detail.html",
        {
            "page": subscription_page(subscription=subscription),
            "subscription": subscription,
            "secret": secret,
            "states": DeliveryState,
            "redeliverable": (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.RETRYING),
        },
    )
    # A page that may carry the secret must not be kept by the browser's or a proxy's cache.
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def subscription_deactivate_view(request, subscription_id: int):
    subscription = subscription_get_for_user(user=request.user, subscription_id=subscription_id)
    subscription_deactivate(actor=request.user, subscription=subscription)
    messages.success(request, "Webhook deactivated: nothing more is sent to it.")
    return redirect("webhooks:subscription", subscription.pk)


@login_required
@require_POST
def delivery_redeliver_view(request, subscription_id: int, delivery_uuid):
    subscription = subscription_get_for_user(user=request.user, subscription_id=subscription_id)
    delivery = delivery_get(subscription=subscription, delivery_uuid=delivery_uuid)
    try:
        delivery_redeliver(actor=request.user, delivery=delivery)
    except Conflict as refusal:
        messages.error(request, f"Not sent again: {refusal.message}")
    else:
        messages.success(request, f"Delivery {delivery.uuid} queued to be sent again.")
    return redirect("webhooks:subscription", subscription.pk)
