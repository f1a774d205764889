"""Admin: subscriptions and deliveries, read-only. The secret is never shown; changes go through the pages,
so they are audited."""

from django.contrib import admin

from warehouse.registry.admin import ReadOnlyMixin
from warehouse.webhooks.models import WebhookDelivery, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["pk", "model", "url", "active", "created_by", "created_at", "starts_after_sequence"]
    list_filter = ["active"]
    search_fields = ["url", "description", "model__name"]
    list_select_related = ["model", "created_by"]
    # Everything but the secret.
    fields = [
        "model",
        "url",
        "events",
        "description",
        "active",
        "created_by",
        "created_at",
        "deactivated_at",
        "starts_after_sequence",
    ]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["uuid", "subscription", "event", "state", "attempts", "last_status_code", "created_at"]
    list_filter = ["state", "event"]
    search_fields = ["uuid"]
    list_select_related = ["subscription__model"]
    fields = [
        "uuid",
        "subscription",
        "event",
        "audit_sequence",
        "state",
        "attempts",
        "next_attempt_at",
        "enqueued_at",
        "lease_expires_at",
        "last_status_code",
        "last_error",
        "response_excerpt",
        "created_at",
        "last_attempt_at",
        "delivered_at",
        "body",
    ]
