"""The database itself keeps the trail append-only: the triggers refuse what the application never does."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from warehouse.audit.chain import chain_verify
from warehouse.audit.models import AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.audit.services import audit_record


@pytest.fixture
def trail(db):
    for index in range(3):
        audit_record(actor=None, action="test.recorded", data={"index": index})


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Run the deferred foreign-key checks of the rows written above first: PostgreSQL will not
            # TRUNCATE a table with trigger events still pending, which would hide the refusal under test.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)
    return str(refused.value)


def test_the_database_refuses_an_update(trail):
    message = _refused("UPDATE audit_auditevent SET action = 'test.forged' WHERE sequence = 2")

    assert "UPDATE on audit_auditevent is refused: the audit trail is append-only" in message
    assert AuditEvent.objects.get(sequence=2).action == "test.recorded"
    assert chain_verify(audit_events_in_sequence()).ok


def test_the_orm_cannot_rewrite_an_event_either(trail):
    event = AuditEvent.objects.get(sequence=1)
    event.action = "test.forged"

    with pytest.raises(IntegrityError), transaction.atomic():
        event.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.update(actor_label="eve")

    assert chain_verify(audit_events_in_sequence()).ok


def test_the_database_refuses_a_delete(trail):
    message = _refused("DELETE FROM audit_auditevent WHERE sequence = 2")

    assert "DELETE on audit_auditevent is refused: the audit trail is append-only" in message
    assert AuditEvent.objects.count() == 3


def test_the_database_refuses_a_delete_through_the_orm(trail):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(sequence=3).delete()

    assert AuditEvent.objects.count() == 3


@pytest.mark.postgres
def test_postgres_refuses_a_truncate(trail):
    message = _refused("TRUNCATE audit_auditevent")

    assert "TRUNCATE on audit_auditevent is refused: the audit trail is append-only" in message
    assert AuditEvent.objects.count() == 3


@pytest.mark.postgres
def test_postgres_refuses_a_truncate_that_cascades_from_users(trail):
    message = _refused("TRUNCATE auth_user CASCADE")

    assert "refused" in message
    assert AuditEvent.objects.count() == 3


@pytest.mark.postgres
def test_postgres_installs_the_triggers(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass AND NOT tgisinternal"
        )
        names = {row[0] for row in cursor.fetchall()}

    assert names == {"audit_auditevent_refuse_row_change", "audit_auditevent_refuse_truncate"}
