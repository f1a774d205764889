from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """A caller's `Idempotency-Key` and the answer its first request got (DESIGN invariant 11).

    A row is committed only with a successful answer: it is written in the request's own transaction, and
    a request that is refused or fails takes its row away again, so a corrected retry with the same key
    acts. Rows older than IDEMPOTENCY_KEY_HOURS are purged by the sweeper.
    """

    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of the method, the path and the body: the same key with anything else is a reuse (409).
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.TextField()
    status = models.PositiveSmallIntegerField(null=True, help_text="None while the first request runs.")
    content = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    location = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            # Concurrent first uses of a key meet here: the second waits for the first's commit.
            models.UniqueConstraint(fields=["caller", "key"], name="api_idempotency_key_once_per_caller"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"


# --- What the MLflow client keeps beside a model (warehouse/api/mlflow/) ---------------------------------
# Tags and free-form aliases are the MLflow client's metadata: shown to MLflow callers, audited when they
# change, never read by a gate, a stage change or the production answer. The stage aliases (`production`,
# `staging`, `archived`) are never stored: they are answered from the real stage.


class MlflowModelTag(models.Model):
    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="mlflow_tags"
    )
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="mlflow_model_tag_once")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class MlflowVersionTag(models.Model):
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="mlflow_tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="mlflow_version_tag_once")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class MlflowAlias(models.Model):
    """A free-form alias (`champion`, `candidate`): a name for a version, for MLflow callers only."""

    model = models.ForeignKey(
        "registry.RegisteredModel", on_delete=models.CASCADE, related_name="mlflow_aliases"
    )
    alias = models.CharField(max_length=250)
    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.CASCADE, related_name="mlflow_aliases"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["alias"]
        constraints = [models.UniqueConstraint(fields=["model", "alias"], name="mlflow_alias_once")]

    def __str__(self) -> str:
        return f"{self.alias} → {self.version_id}"
