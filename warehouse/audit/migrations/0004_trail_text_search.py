"""The audit trail's filter boxes (model, actor, action: text anywhere, or `*` patterns) answered through a
trigram index on PostgreSQL, so a filter finds its few events among millions without reading them all.

Built CONCURRENTLY, outside a transaction: on a long trail the build takes a while, and a plain build would
hold every writer of an audit event (every write of the registry) until it ends. SQLite has no trigram
index; its trails are small and its filters read the table.
"""

from django.db import migrations

INDEX = "audit_event_text_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension: the database's owner may create it without being a superuser.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON audit_auditevent USING gin "
        "(model_name gin_trgm_ops, actor_label gin_trgm_ops, action gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0003_lean_indexes")]

    operations = [migrations.RunPython(create, drop, atomic=False)]
