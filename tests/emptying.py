"""How a transactional test's database is emptied after it: DELETE, not TRUNCATE, and the content types kept.

Django empties the database after each transactional test with `flush` (warehouse/audit's, which lifts the
append-only triggers for the duration). Django's PostgreSQL flush is one TRUNCATE of every table, and a
TRUNCATE makes new files for each of the ~50 tables and their indexes and syncs them at commit: about
0.4 s each time, on a database a test leaves almost empty. DELETE of the few rows left takes about 0.02 s,
with the same result: every table empty, sequences kept (Django's flush between tests does not reset them
either). Under `session_replication_role = replica`, which the flush command sets and the statements set
again for their own transaction, foreign keys are not checked, so the order of the tables does not matter.

The content types and permissions are kept. The flush's post_migrate would write the same rows again,
under new ids; but ContentType.objects caches ids in each process, and the processes a test starts once for
many tests (the shared web tiers of tests/web) would go on asking for grants under ids that no longer
exist. Kept, they are what post_migrate would have made, under the ids every process already knows.

On SQLite the flush is already a DELETE per table; there the tables keep AUTOINCREMENT counters, so
post_migrate's rows would come back under new ids all the more surely, and the kept tables are left out too.

A flush that resets sequences (none in this suite) keeps Django's own statements.
"""

import pytest
from django.db.backends.postgresql.operations import DatabaseOperations as PostgreSQLOperations
from django.db.backends.sqlite3.base import DatabaseOperations as SQLiteOperations

KEPT = frozenset({"django_content_type", "auth_permission"})
_truncate = PostgreSQLOperations.sql_flush
_sqlite_flush = SQLiteOperations.sql_flush


def _delete_rows(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    if reset_sequences or not tables:
        return _truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    return ["SET LOCAL session_replication_role = replica;"] + [
        f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
        for table in tables
        if table not in KEPT
    ]


def _sqlite_delete_rows(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    if not reset_sequences:
        tables = [table for table in tables if table not in KEPT]
    return _sqlite_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)


@pytest.fixture(scope="session", autouse=True)
def tables_emptied_by_delete():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PostgreSQLOperations, "sql_flush", _delete_rows)
        patch.setattr(SQLiteOperations, "sql_flush", _sqlite_delete_rows)
        yield
