import contextlib

import pytest
from django.db import connection


@contextlib.contextmanager
def _triggers_bypassed():
    """What a malicious DBA would do to rewrite the trail: PostgreSQL stops firing triggers for the session
    (superuser only); SQLite has no such switch, so the trigger is dropped, inside the test's transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_refuse_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_auditevent_refuse_delete")
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")


@pytest.fixture
def tamper(db):
    """Run raw SQL against the trail as someone who got past the triggers. The test's transaction rolls
    everything back, the dropped SQLite trigger included."""

    def run(sql: str, params=()):
        with _triggers_bypassed(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    return run
