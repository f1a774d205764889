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
