"""Database triggers that refuse changes to append-only and immutable tables.

The application never updates these rows; the triggers make sure nothing else does either (a stray
script, a shell session, a future bug). PostgreSQL refuses UPDATE, DELETE and TRUNCATE; SQLite, the
embedded default, has no TRUNCATE and refuses UPDATE and DELETE. Emptying a whole database on purpose
goes through the project's `flush` command, which knows how to step around them.
"""

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION warehouse_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'warehouse: % on % is refused: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def _pg_statements(table: str, row_ops: tuple[str, ...], truncate: bool, reason: str) -> list[str]:
    statements = [PG_FUNCTION]
    quoted_reason = reason.replace("'", "''")
    if row_ops:
        statements.append(
            f"CREATE TRIGGER {table}_refuse_row_change BEFORE {' OR '.join(row_ops)} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION warehouse_refuse_change('{quoted_reason}');"
        )
    if truncate:
        statements.append(
            f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION warehouse_refuse_change('{quoted_reason}');"
        )
    return statements


SQLITE_TRIGGER_SUFFIXES = ("_refuse_update", "_refuse_delete")


def _sqlite_statements(table: str, row_ops: tuple[str, ...], reason: str) -> list[str]:
    statements = []
    for operation in row_ops:
        message = f"warehouse: {operation} on {table} is refused: {reason}".replace("'", "''")
        statements.append(
            f"CREATE TRIGGER {table}_refuse_{operation.lower()} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        )
    return statements


def refuse_changes(
    table: str, *, reason: str, delete: bool = False, truncate: bool = False
) -> migrations.RunPython:
    """A migration operation installing the refusal triggers for `table` on the current database."""
    row_ops = ("UPDATE", "DELETE") if delete else ("UPDATE",)

    def install(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            statements = _pg_statements(table, row_ops, truncate, reason)
        elif vendor == "sqlite":
            statements = _sqlite_statements(table, row_ops, reason)
        else:
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    def uninstall(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_row_change ON {table};")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_truncate ON {table};")
        elif vendor == "sqlite":
            for suffix in SQLITE_TRIGGER_SUFFIXES:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}{suffix};")

    return migrations.RunPython(install, uninstall)
