"""What of the audit trail a person may read: the whole trail, the models they see by name when they are
few, or the models they see as a queryset when they are many; read for the trail page, its export and the
home page's recent activity."""

from dataclasses import dataclass

from django.db.models import QuerySet

from warehouse.accounts.visibility import models_visible_for_read, reader_for
from warehouse.registry.models import RegisteredModel

# A reader who sees at most this many models has the trail filtered by their names, each answered by the
# trail's (model_name, sequence) index; one who sees more, by asking per event whether its model is one
# they see, which reads the newest events first and stops at a page (most events are theirs to see).
AUDIT_NAMES_LISTED = 200


def audit_visible_model_names(*, user):
    """What of the audit trail `user` may read: None for all of it; else the models they see, as a list of
    names when they are few (AUDIT_NAMES_LISTED, one query reading at most that many), or as a queryset of
    RegisteredModel when they are more. Either way the cost does not grow with the registry."""
    return audit_reader(user=user).visible


@dataclass(frozen=True)
class AuditReader:
    visible: list[str] | QuerySet | None  # as audit_event_list takes it
    model_names: list[str]  # the model box's suggestions: the first names, alphabetically


def audit_reader(*, user, suggestions: int = 500) -> AuditReader:
    """What of the trail `user` may read, and the model names to suggest: one query."""
    if user.is_superuser or user.has_perm("audit.view_auditevent"):
        names = RegisteredModel.objects.order_by("name").values_list("name", flat=True)[:suggestions]
        return AuditReader(None, list(names))
    # Every use stops early: the first names, the models a pattern matches, or the model of each event as a
    # page of the trail reads them, newest first.
    rows = AUDIT_NAMES_LISTED + 1
    visible = models_visible_for_read(reader_for(user), RegisteredModel.objects.all(), rows=rows)
    names = list(visible.order_by("name").values_list("name", flat=True)[:rows])
    if len(names) <= AUDIT_NAMES_LISTED:
        return AuditReader(names, names)
    return AuditReader(visible, names[:AUDIT_NAMES_LISTED])
