"""Django's flush, able to empty the append-only and immutable tables.

Their triggers refuse DELETE and TRUNCATE. Emptying the whole database on purpose (a test run between
cases, a developer resetting a laptop) is the one exception:
- on PostgreSQL this sets `session_replication_role = replica` for the duration, which only a database
  superuser may do, and which silences the change feed's triggers too: it announces the emptying itself;
- on SQLite it drops the refusal triggers, empties the tables and puts the triggers back.
"""

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import DEFAULT_DB_ALIAS, connections

from warehouse.changes import ACCESS, CHANNEL, REGISTRY
from warehouse.dbtriggers import SQLITE_TRIGGER_SUFFIXES


class Command(DjangoFlush):
    def handle(self, **options):
        connection = connections[options.get("database", DEFAULT_DB_ALIAS)]
        if connection.vendor == "postgresql":
            return self._flush_postgresql(connection, options)
        if connection.vendor == "sqlite":
            return self._flush_sqlite(connection, options)
        return super().handle(**options)

    def _flush_postgresql(self, connection, options):
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
                # The replica role silenced the change feed's triggers too: tell every web process that
                # what it remembers (tokens, permissions, production answers, list pages) is gone.
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, ACCESS])
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, REGISTRY])

    def _flush_sqlite(self, connection, options):
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            triggers = [
                (name, sql) for name, sql in cursor.fetchall() if name.endswith(SQLITE_TRIGGER_SUFFIXES)
            ]
            for name, _ in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                for _, sql in triggers:
                    cursor.execute(sql)
