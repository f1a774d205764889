"""Promotion policies with their revisions, and gate runs with their check results.

Data and constraints only; every write is in the services of `policies`, `gates` and `requests`.
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
    # What the current attempt found so far, one {"check", "status", "summary"} per finished check, in
    # the order they ran: what the pages show while the run is open. Emptied when an attempt claims the
    # run; the CheckResults written when it finishes stay the record.
    progress = models.JSONField(default=list, blank=True)
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
    # The policy sets no rule for the check: neither a pass nor a failure.
    NOT_CONFIGURED = "not_configured", "Not configured"


class CheckResult(models.Model):
    """What one check found in one gate run. Written with the run's final state, all at once."""

    gate_run = models.ForeignKey(GateRun, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveSmallIntegerField()
    check_name = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=CheckStatus.choices)
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


# --- Promotion requests and sign-offs -------------------------------------------------------------------


class RequestState(models.TextChoices):
    CHECKING = "checking", "Checking"
    CHECKS_FAILED = "checks_failed", "Checks failed"
    AWAITING_SIGNOFF = "awaiting_signoff", "Awaiting sign-off"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Superseded"


# A request stays open until it is approved (and executed), rejected, cancelled or superseded.
OPEN_REQUEST_STATES = (RequestState.CHECKING, RequestState.CHECKS_FAILED, RequestState.AWAITING_SIGNOFF)


class PromotionRequest(models.Model):
    """Someone's ask to move a version up one stage: a gate run, then the sign-offs the policy asks for.

    Reads like a pull request: the gate run is its CI, sign-offs are its reviews, and approval executes
    the move through the one stage-change service, in the transaction of the last sign-off.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="promotion_requests")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotion_requests")
    from_stage = models.CharField(max_length=16, choices=Stage.choices)
    target_stage = models.CharField(max_length=16, choices=Stage.choices)
    state = models.CharField(max_length=20, choices=RequestState.choices, default=RequestState.CHECKING)
    justification = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    # The gate run the request is judged by: the latest one asked for it.
    gate_run = models.ForeignKey(GateRun, on_delete=models.PROTECT, related_name="promotion_requests")
    overridden = models.BooleanField(
        default=False, help_text="Approved despite a gate that did not pass, by someone allowed to."
    )
    override_justification = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the warehouse closed it (superseded).",
    )
    closed_reason = models.TextField(blank=True)
    # The stage change the approval made.
    transition = models.OneToOneField(
        "registry.StageTransition",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="promotion_request",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "target_stage", "created_at"]),
            # The reviewer queue, oldest first across both target stages: read a page in order, never sort
            # every request awaiting sign-off (200 ms at 10,000 of them, 3 ms with this).
            models.Index(fields=["state", "created_at", "id"], name="request_state_oldest_first"),
            models.Index(fields=["requested_by", "-created_at"]),
            models.Index(fields=["version", "-created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "target_stage"],
                condition=Q(state__in=OPEN_REQUEST_STATES),
                name="one_open_request_per_version_and_target",
            ),
            models.CheckConstraint(
                condition=Q(target_stage__in=[Stage.STAGING, Stage.PRODUCTION]),
                name="request_targets_a_move_up",
            ),
            models.CheckConstraint(
                condition=Q(overridden=False) | ~Q(override_justification=""),
                name="override_needs_justification",
            ),
        ]

    def __str__(self) -> str:
        return f"request {self.pk}: version {self.version_id} → {self.target_stage}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_REQUEST_STATES


class Decision(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class SignOff(models.Model):
    """One person's decision on one request, bound to the gate run they looked at. Never changed."""

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="signoffs")
    gate_run = models.ForeignKey(GateRun, on_delete=models.PROTECT, related_name="signoffs")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32, help_text="The role the signer signed as: reviewer or approver.")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    override = models.BooleanField(default=False, help_text="An approval despite a gate that did not pass.")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["request", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "signer"], name="one_signoff_per_person_per_request"),
            models.CheckConstraint(
                condition=Q(decision="approve") | ~Q(comment=""), name="reject_needs_comment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.signer_id} on request {self.request_id}"
