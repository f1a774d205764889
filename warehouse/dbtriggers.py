"""Database triggers: refusing changes to append-only and immutable tables, and announcing changes.

Append-only and immutable rows: the application never updates them; the triggers make sure nothing else
does either (a stray script, a shell session, a future bug). PostgreSQL refuses UPDATE, DELETE and
TRUNCATE; SQLite, the embedded default, has no TRUNCATE and refuses UPDATE and DELETE. Emptying a whole
database on purpose goes through the project's `flush` command, which knows how to step around them.

Announcing: on PostgreSQL, changes that web processes' remembered answers depend on are announced with
pg_notify() from triggers, so no writer (a service, the admin, a shell session) can forget to.
"""

from django.db import migrations

from warehouse.changes import CHANNEL

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


def sqlite_refusals_restore(table: str, *, reason: str, delete: bool = False) -> migrations.RunPython:
    """A migration operation putting `table`'s refusal triggers back on SQLite, after a migration that
    changed one of its fields: SQLite rebuilds the table for that, and the rebuild drops its triggers.
    Nothing to do on PostgreSQL, which alters the table in place and keeps them."""
    row_ops = ("UPDATE", "DELETE") if delete else ("UPDATE",)

    def restore(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for suffix in SQLITE_TRIGGER_SUFFIXES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}{suffix};", params=None)
        for statement in _sqlite_statements(table, row_ops, reason):
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(restore, migrations.RunPython.noop, elidable=False)


# --- Announcing changes: the change feed's triggers (PostgreSQL only) ---------------------------------------

NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION warehouse_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_ARGV[0]);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


# Every kind of write to a table, for a trigger that announces any change to it.
ANY_CHANGE = "INSERT OR UPDATE OR DELETE OR TRUNCATE"


def notify_on_change(
    table: str, *, payload: str, events: str, for_each_row_when: str = ""
) -> migrations.RunPython:
    """A migration operation: announce `events` on `table` to every web process's change feed
    (warehouse/changes.py), delivered by PostgreSQL when the changing transaction commits.

    Per statement by default; with `for_each_row_when` (a condition on OLD and NEW), per row and only when
    it holds, so frequent writes that change nothing the feed's readers depend on (a token's last use, a
    person's last sign-in) announce nothing. SQLite has no feed and gets no trigger.
    """
    # auth_user_notify_dt: the table, then the initials of the events (PostgreSQL names stop at 63 bytes).
    name = f"{table}_notify_{''.join(event[0] for event in events.lower().split(' or '))}"
    level = f"FOR EACH ROW WHEN ({for_each_row_when})" if for_each_row_when else "FOR EACH STATEMENT"

    def install(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(NOTIFY_FUNCTION, params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} {level} "
            f"EXECUTE FUNCTION warehouse_notify('{payload}');",
            params=None,
        )

    def uninstall(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};")

    return migrations.RunPython(install, uninstall)
