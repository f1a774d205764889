"""The check results' refusal triggers (0002), back on SQLite: 0003 and 0006 changed a field of the table,
which SQLite applies by rebuilding it, and the rebuild dropped them, so the embedded database let a gate
run's results be rewritten. PostgreSQL kept them; nothing changes there."""

from django.db import migrations

from warehouse.dbtriggers import sqlite_refusals_restore


class Migration(migrations.Migration):
    dependencies = [("promotions", "0008_queue_oldest_first_index")]

    operations = [
        sqlite_refusals_restore(
            "promotions_checkresult",
            reason="a gate run's results are its record; run the gate again instead",
            delete=True,
        ),
    ]
