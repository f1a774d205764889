"""The tracking servers an administrator trusts: the only places Warehouse will call on a user's behalf.

The credential is never stored: a server names the environment variable that holds it, read when used.
"""

from django.conf import settings
from django.db import models


class TrackingKind(models.TextChoices):
    MLFLOW = "mlflow", "MLflow"


class TrackingServer(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=TrackingKind.choices, default=TrackingKind.MLFLOW)
    url = models.CharField(max_length=500, help_text="The MLflow tracking URL, http or https.")
    credential_env = models.CharField(
        max_length=128,
        help_text="The environment variable holding the token (its name, never the token).",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    # None: configured by the warehouse itself, from WAREHOUSE_TRACKING_SERVERS.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    IMPORTING = "importing", "Importing"
    RETRYING = "retrying", "Waiting to retry"
    IMPORTED = "imported", "Imported"
    FAILED = "failed", "Import failed"


class RunImport(models.Model):
    """The import of one version's evidence from its tracked run: written with the version, claimed and run
    by a worker, retried with backoff while the tracking server is unreachable, and ended once, imported or
    failed. A failed import can be queued again by someone who may register versions of the model."""

    version = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="run_import"
    )
    server = models.ForeignKey(TrackingServer, on_delete=models.PROTECT, related_name="imports")
    run_id = models.CharField(max_length=200)
    # Where the model's files are, as the pipeline named them: `runs:/<run>/<path>` or `models:/<id>`.
    source = models.CharField(max_length=500)
    # The digests the pipeline sent, by file path inside the model's directory: checked, never trusted.
    expected_digests = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=ImportState.choices, default=ImportState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # When the broker last accepted a message for it (None: never; the sweeper will send it).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Progress of the current attempt, for large models: bytes streamed and hashed of the bytes listed.
    bytes_done = models.PositiveBigIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    # What the import read but did not keep (metrics of unknown direction, say), for the version page.
    notes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=ImportState.values), name="run_import_state_known"
            ),
        ]

    def __str__(self) -> str:
        return f"import of run {self.run_id} from {self.server_id}"

    @property
    def open(self) -> bool:
        return self.state in (ImportState.QUEUED, ImportState.IMPORTING, ImportState.RETRYING)
