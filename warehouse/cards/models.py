from django.conf import settings
from django.db import models

from warehouse import clock
from warehouse.registry.models import ModelVersion


class ModelCard(models.Model):
    """The written documentation of one version. Editable by those allowed; every edit is a CardRevision."""

    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="card")
    current = models.ForeignKey(
        "CardRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"card of version {self.version_id}"


class CardRevision(models.Model):
    card = models.ForeignKey(ModelCard, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    # Markdown as written, and the sanitised HTML rendered from it once, on write: {section: text}.
    sections = models.JSONField(default=dict)
    sections_html = models.JSONField(default=dict)
    summary = models.CharField(max_length=300, blank=True, help_text="What changed, in a line.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["card", "-number"]
        constraints = [models.UniqueConstraint(fields=["card", "number"], name="card_revision_number_unique")]

    def __str__(self) -> str:
        return f"revision {self.number}"
