from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained trail.

    `hash` covers the previous hash, the sequence number and the canonical JSON of every other column,
    so changing, removing or reordering a row breaks the chain from that row on (`verify_audit`).
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    # PROTECT: a person with history is deactivated, never deleted, or the trail would lose its actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="Who acted, as shown: a username or 'system'.")
    via = models.CharField(max_length=100, blank=True, help_text="web, api-token:<prefix>, command, worker…")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    model_name = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-sequence"]
        # Every index is paid for by every event written: none on `hash` (nothing looks an event up by its
        # hash, and the unique sequence already keeps the chain linear) and no pattern-operator (`_like`)
        # copies, which no query used. The trail page's text filters use a trigram index, PostgreSQL only
        # (migration 0004).
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["action"], name="audit_event_action_idx"),
            # A model's events newest first (the incident page); the trail for readers who see some models.
            models.Index(fields=["model_name", "sequence"], name="audit_event_model_seq_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_label}"
