"""Django's flush, able to empty the append-only tables.

The triggers on the audit and evidence tables refuse TRUNCATE. Emptying the whole database on purpose (a
test run between cases, a developer resetting a laptop) is the one exception: on PostgreSQL this sets
`session_replication_role = replica` for the duration, which only a database superuser may do, so an
application role still cannot wipe the trail.
"""

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import DEFAULT_DB_ALIAS, connections


class Command(DjangoFlush):
    def handle(self, **options):
        connection = connections[options.get("database", DEFAULT_DB_ALIAS)]
        if connection.vendor != "postgresql":
            return super().handle(**options)
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
