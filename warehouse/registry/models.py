"""Registered models, their versions, and each version's immutable evidence.

Data and constraints only. Every write goes through `warehouse.registry.services`; the stage of a version
changes only in `version_transition`.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from warehouse import clock

# Of a model or a version: what it is, or what changed. Longer prose belongs in the model card.
DESCRIPTION_MAX_LENGTH = 5000


class Stage(models.TextChoices):
    DRAFT = "draft", "Draft"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


class RegisteredModel(models.Model):
    name = models.SlugField(
        max_length=64, unique=True, help_text="Lower-case letters, digits and hyphens; it appears in URLs."
    )
    description = models.TextField(blank=True)
    # Indexed with the model's key (Meta.indexes) rather than alone.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_models", db_index=False
    )
    team = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.PROTECT, related_name="models", db_index=False
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]
        # A team's or an owner's models in key order, their keys read from the index alone: the list's
        # filter menus ask each team and person for their first models (accounts.visibility's
        # any_of_theirs_visible), and PostgreSQL reads such an index rather than scan the table even when its
        # statistics say one person owns most models, where the single-column index was not worth reading.
        indexes = [
            models.Index(fields=["owner", "id"], name="registry_model_owner_key"),
            models.Index(fields=["team", "id"], name="registry_model_team_key"),
        ]
        # Per-model abilities. A role group holds them org-wide; guardian grants them on one model.
        permissions = [
            ("register_version", "Register versions"),
            ("archive_version", "Archive Draft and Staging versions"),
            ("archive_production", "Archive the Production version"),
            ("edit_card", "Edit model cards"),
            ("request_promotion", "Request promotion"),
            ("signoff_staging", "Sign off promotion to Staging (reviewer)"),
            ("signoff_production", "Sign off promotion to Production (approver)"),
            ("override_gate", "Approve despite a failed gate (override)"),
            ("respond_incident", "Respond to incidents and roll back"),
            ("admin_policy", "Edit the promotion policy"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DRAFT)
    stage_changed_at = models.DateTimeField(default=clock.now)
    description = models.TextField(blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    # The production version this one replaced: where a rollback goes while this one is in production.
    rollback_target = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rollback_for"
    )
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    # When the evidence was written: at registration, or once afterwards for a version registered without it
    # (MLflow's registry API gives only where the files are and the run). Null while the evidence is pending;
    # once set it never changes, and neither do `source_uri` and `run_id` (a trigger holds it).
    evidence_attached_at = models.DateTimeField(null=True, blank=True, default=clock.now)
    source_uri = models.CharField(
        max_length=2048, blank=True, help_text="Where the version's files are, as registered. Never fetched."
    )
    run_id = models.CharField(max_length=200, blank=True, help_text="The tracked run, as registered.")

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="version_number_unique_per_model"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(stage=Stage.PRODUCTION), name="one_production_version_per_model"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
        ]
        indexes = [models.Index(fields=["model", "stage"])]

    def __str__(self) -> str:
        return self.identifier

    @property
    def evidence_pending(self) -> bool:
        return self.evidence_attached_at is None

    @property
    def identifier(self) -> str:
        # Reads the model's name: callers select_related("model") when showing many versions.
        return f"{self.model.name}/v{self.number}"


class TransitionKind(models.TextChoices):
    PROMOTION = "promotion", "Promotion"
    REPLACED = "replaced", "Replaced by a newer version"
    ARCHIVE = "archive", "Archived"
    ROLLBACK = "rollback", "Rollback"
    ROLLED_BACK = "rolled-back", "Rolled back"


class StageTransition(models.Model):
    """One stage change of one version, in the order they happened."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="transitions")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="transitions")
    from_stage = models.CharField(max_length=16, choices=Stage.choices)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    kind = models.CharField(max_length=16, choices=TransitionKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["model", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.version_id}: {self.from_stage} → {self.to_stage}"


class ProductionAnswer(models.Model):
    """What `GET /api/v1/models/<name>/production` answers for one model, exactly as it is sent.

    Written by the stage door (`version_transition`) in the transaction of every change that touches
    production, so it is what PostgreSQL holds after the last committed stage change, never a guess. Each
    write takes the next `generation`; a trigger announces it to every web process (warehouse/changes.py),
    which drop what they remembered of the model. A model that has never had a production version has no row.
    """

    model = models.OneToOneField(
        RegisteredModel, primary_key=True, on_delete=models.CASCADE, related_name="production_answer"
    )
    generation = models.PositiveBigIntegerField()
    # The JSON document as served, "" when nothing is in production; its ETag is a digest of these bytes.
    body = models.TextField(blank=True)
    etag = models.CharField(max_length=80, blank=True)
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.model_id}@{self.generation}"


# --- Evidence: written once at registration, never changed (DESIGN invariant 3) -------------------------


class EvidenceChangeRefused(Exception):
    pass


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise EvidenceChangeRefused(
            f"{self.model.__name__} is evidence: it cannot be changed; register a new version."
        )

    def delete(self):
        raise EvidenceChangeRefused(f"{self.model.__name__} is evidence: it cannot be deleted.")


class ImmutableEvidence(models.Model):
    """Rows written once. The database refuses updates too (triggers in the migrations)."""

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields") is not None:
            raise EvidenceChangeRefused(
                f"{type(self).__name__} is evidence: it cannot be changed; register a new version."
            )
        if not args:
            # A new instance given the pk of a stored row would otherwise be saved as an UPDATE of that row.
            kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise EvidenceChangeRefused(f"{type(self).__name__} is evidence: it cannot be deleted.")


class ArtifactKind(models.TextChoices):
    WEIGHTS = "weights", "Weights"
    CONFIG = "config", "Config"
    TOKENIZER = "tokenizer", "Tokenizer"
    SIGNATURE = "signature", "Signature"
    PREPROCESSOR = "preprocessor", "Preprocessor"
    ENVIRONMENT = "environment", "Environment"
    OTHER = "other", "Other"


class Artifact(ImmutableEvidence):
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="artifacts")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ArtifactKind.choices)
    uri = models.CharField(max_length=2048, help_text="Stored and shown; never fetched unless warehouse://.")
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="artifact_name_unique_per_version")
        ]

    def __str__(self) -> str:
        return self.name


class SourceRun(ImmutableEvidence):
    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="source_run")
    tracking_system = models.CharField(max_length=50, help_text="mlflow, wandb, sagemaker, vertex…")
    run_id = models.CharField(max_length=200)
    url = models.CharField(max_length=2048, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)
    training_data = models.CharField(
        max_length=2048, blank=True, help_text="A reference to the training data."
    )

    def __str__(self) -> str:
        return f"{self.tracking_system}:{self.run_id}"


class MetricDirection(models.TextChoices):
    HIGHER_IS_BETTER = "higher", "Higher is better"
    LOWER_IS_BETTER = "lower", "Lower is better"


class EvaluationReport(ImmutableEvidence):
    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="evaluation")
    dataset = models.CharField(max_length=200)
    dataset_version = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.dataset}@{self.dataset_version}" if self.dataset_version else self.dataset


class EvaluationMetric(ImmutableEvidence):
    report = models.ForeignKey(EvaluationReport, on_delete=models.PROTECT, related_name="metrics")
    name = models.CharField(max_length=100)
    value = models.FloatField()
    direction = models.CharField(max_length=8, choices=MetricDirection.choices)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["report", "name"], name="metric_name_unique_per_report")
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class SliceMetric(ImmutableEvidence):
    report = models.ForeignKey(EvaluationReport, on_delete=models.PROTECT, related_name="slices")
    slice_key = models.CharField(max_length=200, help_text="Like region=EU or region=EU,device=mobile.")
    metric = models.CharField(max_length=100)
    value = models.FloatField()
    sample_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["slice_key", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "slice_key", "metric"], name="slice_metric_unique_per_report"
            )
        ]

    def __str__(self) -> str:
        return f"{self.slice_key} {self.metric}={self.value}"


class PerformanceProfile(ImmutableEvidence):
    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="profile")
    latency_p50_ms = models.FloatField()
    latency_p95_ms = models.FloatField()
    latency_p99_ms = models.FloatField()
    hardware = models.CharField(max_length=200, blank=True)
    throughput_rps = models.FloatField(null=True, blank=True)
    cost_per_1k_predictions = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")

    def __str__(self) -> str:
        return f"p95 {self.latency_p95_ms} ms"
