"""Webhook subscriptions and their deliveries.

Data and constraints only; every write is in `warehouse.webhooks.services`. The audit trail is the outbox:
the fan-out reads events after `WebhookCursor.last_sequence` and writes one delivery per matching
subscription, each a row before anything is sent.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse import clock
from warehouse.registry.models import RegisteredModel


class WebhookEvent(models.TextChoices):
    VERSION_REGISTERED = "version.registered", "Version registered"
    PROMOTION_REQUESTED = "promotion.requested", "Promotion requested"
    PROMOTION_SUPERSEDED = "promotion.superseded", "Promotion request superseded"
    GATE_FINISHED = "gate.finished", "Gate finished"
    SIGNOFF_RECORDED = "signoff.recorded", "Sign-off recorded"
    STAGE_CHANGED = "version.stage_changed", "Stage changed"
    ROLLED_BACK = "version.rolled_back", "Rolled back"


class WebhookSubscription(models.Model):
    """Where to send which events: for one model, or for every model (global, superusers only)."""

    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="Names of the events sent, e.g. version.registered.")
    # Kept to sign each delivery: the receiver checks the signature with the same secret. Shown once.
    secret = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # The head of the audit trail when the subscription was made: it never receives older events.
    starts_after_sequence = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["active", "model"])]

    def __str__(self) -> str:
        where = self.model.name if self.model_id else "all models"
        return f"webhook {self.pk} ({where}) → {self.url}"

    @property
    def is_global(self) -> bool:
        return self.model_id is None


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for one subscription: written at fan-out, claimed and sent by a worker, retried with
    backoff until it is delivered or given up."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries")
    event = models.CharField(max_length=64, choices=WebhookEvent.choices)
    audit_sequence = models.PositiveBigIntegerField(help_text="The audit event this delivery announces.")
    # The exact JSON text that is signed and sent: the signature covers these bytes, not a re-serialisation.
    body = models.TextField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=clock.now)
    # When the broker last accepted a message for it (None: never; the sweeper will send it).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["subscription", "-created_at"]),
        ]
        constraints = [
            # Fanning out the same event twice creates nothing twice.
            models.UniqueConstraint(fields=["subscription", "audit_sequence"], name="one_delivery_per_event"),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="webhook_delivery_state_known"
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.uuid} of {self.event} (#{self.audit_sequence})"


class WebhookCursor(models.Model):
    """One row: the last audit sequence the fan-out has read. Locked while it runs."""

    last_sequence = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"webhook fan-out at #{self.last_sequence}"
