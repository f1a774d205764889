"""Model search answered by index on PostgreSQL (warehouse/registry/search.py): trigram GIN indexes on the
upper-cased name and description, which answer `UPPER(column) LIKE UPPER('%term%')`, Django's icontains
there. pg_trgm ships with PostgreSQL and is a trusted extension: the database's owner may create it. A
no-op on SQLite, whose search scans."""

from django.db import migrations

INDEXES = {
    "registry_model_name_trgm": "UPPER(name::text)",
    "registry_model_description_trgm": "UPPER(description::text)",
}


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON registry_registeredmodel "
            f"USING gin (({expression}) gin_trgm_ops)",
            params=None,
        )


def indexes_drop(apps, schema_editor):
    # The extension stays: other indexes may use it.
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0005_version_evidence_pending")]

    operations = [migrations.RunPython(indexes_create, indexes_drop, elidable=False)]
