"""The audit trail's filter boxes (model, actor, action: text anywhere, or `*` patterns) answered through a
trigram index on PostgreSQL, so a filter finds its few events among millions without reading them all.

Whether PostgreSQL reads a filter's matches through that index or walks the trail back from its newest
event until a page is full depends on how many events it expects to match, read off the most common values
of the column: with the default 100 of them, a model among 200 is guessed at 95 events where it has 4,900,
and read through the index and sorted. Keeping up to 1,000 makes the guess right for the names a trail
holds (models, people, actions), at the price of a longer ANALYZE.

The index is built CONCURRENTLY, outside a transaction: on a long trail the build takes a while, and a
plain build would hold every writer of an audit event (every write of the registry) until it ends. SQLite
has no trigram index; its trails are small and its filters read the table.
"""

from django.db import migrations

INDEX = "audit_event_text_trgm"
COLUMNS = ("model_name", "actor_label", "action")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension: the database's owner may create it without being a superuser.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON audit_auditevent USING gin "
        "(model_name gin_trgm_ops, actor_label gin_trgm_ops, action gin_trgm_ops)"
    )
    for column in COLUMNS:
        schema_editor.execute(f"ALTER TABLE audit_auditevent ALTER COLUMN {column} SET STATISTICS 1000")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        for column in COLUMNS:
            schema_editor.execute(f"ALTER TABLE audit_auditevent ALTER COLUMN {column} SET STATISTICS -1")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0003_lean_indexes")]

    operations = [migrations.RunPython(create, drop, atomic=False)]
