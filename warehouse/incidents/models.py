"""Alert receivers, the payloads they were sent, and the incidents those alerts became.

Data and constraints only; every write is in `warehouse.incidents.services`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse import clock
from warehouse.registry.models import ModelVersion, RegisteredModel, StageTransition


def default_model_labels() -> list[str]:
    return ["model_name", "model"]


def default_version_labels() -> list[str]:
    return ["model_version"]


class AlertReceiver(models.Model):
    """Where one alerting system posts: `/hooks/alertmanager/<name>` or `/hooks/grafana/<name>`, with its
    own bearer token. Only the token's SHA-256 digest is stored: it is shown once, when it is made."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=300, blank=True)
    token_prefix = models.CharField(max_length=12, unique=True)
    token_digest = models.CharField(max_length=64, unique=True)
    # The alert labels that name the model and its version, tried in order.
    model_labels = models.JSONField(default=default_model_labels)
    version_labels = models.JSONField(default=default_version_labels)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PayloadKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana"


class AlertPayload(models.Model):
    """A delivery exactly as it arrived, stored before it is read: what was said is never lost, even when
    it cannot be understood."""

    receiver = models.ForeignKey(AlertReceiver, on_delete=models.PROTECT, related_name="payloads")
    kind = models.CharField(max_length=16, choices=PayloadKind.choices)
    body = models.TextField()
    received_at = models.DateTimeField(default=clock.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why it could not be read, if it could not.")
    alert_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} payload {self.pk} to {self.receiver_id}"


class IncidentStatus(models.TextChoices):
    """Firing → Mitigated (a responder rolled the model back; the alert may still be firing) → Resolved (the
    alerting system said the alert ended). Firing → Resolved directly when nobody rolled back. Listed in this
    order, which is also the alphabetical order the incident lists sort by."""

    FIRING = "firing", "Firing"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"


class Incident(models.Model):
    """One alert, as it fired and resolved: keyed by the receiver, its fingerprint and its start time, so a
    repeated delivery updates it instead of making another."""

    receiver = models.ForeignKey(AlertReceiver, on_delete=models.PROTECT, related_name="incidents")
    fingerprint = models.CharField(max_length=128)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    alertname = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=64, blank=True)
    summary = models.TextField(blank=True)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    generator_url = models.TextField(blank=True)
    runbook_url = models.TextField(blank=True)
    # What the alert is about; empty when no model matched (the incident is kept and listed as unmatched).
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    model_label_value = models.CharField(max_length=200, blank=True, help_text="The model the labels named.")
    first_payload = models.ForeignKey(AlertPayload, on_delete=models.PROTECT, related_name="+")
    last_payload = models.ForeignKey(AlertPayload, on_delete=models.PROTECT, related_name="+")
    first_seen_at = models.DateTimeField(default=clock.now)
    last_seen_at = models.DateTimeField(default=clock.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The rollback that mitigated this incident, if any: the move that put `rollback.version` back into
    # production, who made it, the version it took out of production and when.
    rollback = models.ForeignKey(
        StageTransition, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rolled_back_from = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mitigated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["receiver", "fingerprint", "starts_at"], name="one_incident_per_alert"
            ),
            # Mitigated means a rollback was made: the page says which, by whom and when.
            models.CheckConstraint(
                condition=~Q(status="mitigated")
                | Q(rollback__isnull=False, rolled_back_by__isnull=False, mitigated_at__isnull=False),
                name="mitigated_by_a_rollback",
            ),
        ]
        indexes = [
            models.Index(fields=["model", "status", "-starts_at"]),
            models.Index(fields=["status", "-starts_at"], condition=Q(model__isnull=True), name="unmatched"),
        ]

    def __str__(self) -> str:
        return f"incident {self.pk}: {self.alertname or self.fingerprint}"

    @property
    def is_firing(self) -> bool:
        return self.status == IncidentStatus.FIRING

    @property
    def is_mitigated(self) -> bool:
        return self.status == IncidentStatus.MITIGATED

    @property
    def is_open(self) -> bool:
        """Still firing at the alerting system's end, mitigated or not."""
        return self.status != IncidentStatus.RESOLVED
