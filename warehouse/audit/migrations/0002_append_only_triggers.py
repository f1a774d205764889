from django.db import migrations

from warehouse.dbtriggers import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        refuse_changes(
            "audit_auditevent",
            reason="the audit trail is append-only",
            delete=True,
            truncate=True,
        )
    ]
