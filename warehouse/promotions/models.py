"""Promotion policies with their revisions, and gate runs with their check results.

Data and constraints only; every write is in `warehouse.promotions.services`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from warehouse import clock
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage


class PromotionPolicy(models.Model):
    """A model's policy, or the global default (no model) that applies until a model has its own."""

    model = models.OneToOneField(
        RegisteredModel, null=True, blank=True, on_delete=models.PROTECT, related_name="promotion_policy"
    )
    current = models.ForeignKey(
        "PolicyRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name_plural = "promotion policies"
        constraints = [
            # One global default: the only row without a model.
            models.UniqueConstraint(
                models.Value(1), condition=Q(model__isnull=True), name="one_global_promotion_policy"
            ),
        ]

    def __str__(self) -> str:
        return f"policy of {self.model.name}" if self.model_id else "global default policy"


class PolicyRevision(models.Model):
    """One version of a policy's rules. Never changed: editing a policy adds a revision."""

    policy = models.ForeignKey(PromotionPolicy, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    rules = models.JSONField()
    reason = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the built-in default the warehouse wrote itself.",
    )
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policy_revision_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy} r{self.number}"


class GateState(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"


OPEN_GATE_STATES = (GateState.PENDING, GateState.RUNNING)


class GateRun(models.Model):
    """One evaluation of a version's evidence against the policy for a move up.

    Written before any work is queued; a worker claims it with a conditional update (see the services),
    so losing a message, a worker or the broker never loses the run, and running it twice does nothing
    the second time.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="gate_runs")
    target_stage = models.CharField(max_length=16, choices=Stage.choices)
    policy_revision = models.ForeignKey(PolicyRevision, on_delete=models.PROTECT, related_name="gate_runs")
    # The production version the run compared against, recorded when it ran.
    baseline = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="baseline_for_gate_runs"
    )
    state = models.CharField(max_length=16, choices=GateState.choices, default=GateState.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=clock.now)
    # When the broker last accepted a message for this run (None: never; the sweeper will send it).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checks_total = models.PositiveIntegerField(default=0)
    checks_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "lease_expires_at"]),
            models.Index(fields=["version", "target_stage", "-requested_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_stage__in=[Stage.STAGING, Stage.PRODUCTION]), name="gate_targets_a_move_up"
            ),
        ]

    def __str__(self) -> str:
        return f"gate run {self.pk} of version {self.version_id} → {self.target_stage}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_GATE_STATES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class CheckStatus(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class CheckResult(models.Model):
    """What one check found in one gate run. Written with the run's final state, all at once."""

    gate_run = models.ForeignKey(GateRun, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveSmallIntegerField()
    check_name = models.CharField(max_length=32)
    status = models.CharField(max_length=8, choices=CheckStatus.choices)
    required = models.BooleanField(help_text="Whether the policy makes this check block the gate.")
    summary = models.CharField(max_length=500)
    numbers = models.JSONField(default=dict)

    class Meta:
        ordering = ["gate_run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["gate_run", "check_name"], name="one_result_per_check_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.status}"
