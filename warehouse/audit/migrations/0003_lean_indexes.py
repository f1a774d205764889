"""Fewer indexes for every event to pay for, one that a page uses.

- `hash` is no longer unique: nothing looks an event up by its hash, and the unique sequence already keeps the
  chain linear (two events can only share a hash by sharing a sequence). Its index of random keys was the
  dearest part of appending an event: at a million events, 30 µs of the 70 µs PostgreSQL spent per event.
- The pattern-operator (`_like`) twins of action, model_name and hash go: no query used them.
- A model's events newest first (model_name, sequence): the incident page, and the trail for readers who see
  only some models.
"""

from django.conf import settings
from django.db import migrations, models

from warehouse.dbtriggers import refuse_changes

_REFUSALS = refuse_changes(
    "audit_auditevent", reason="the audit trail is append-only", delete=True, truncate=True
)


def _sqlite_triggers_reinstalled(apps, schema_editor):
    # SQLite applies a field change by rebuilding the table, and the append-only triggers (0002) go with the
    # old one: put them back. PostgreSQL alters the table in place and keeps them.
    if schema_editor.connection.vendor == "sqlite":
        _REFUSALS.code(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_triggers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Going back, the field changes below rebuild the table again: this, run last then, reinstalls.
        migrations.RunPython(migrations.RunPython.noop, _sqlite_triggers_reinstalled),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="model_name",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["action"], name="audit_event_action_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["model_name", "sequence"], name="audit_event_model_seq_idx"),
        ),
        migrations.RunPython(_sqlite_triggers_reinstalled, migrations.RunPython.noop),
    ]
