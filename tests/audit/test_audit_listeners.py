"""After-commit listeners: the trail as an outbox. Called once per committed transaction that recorded
events, never for one rolled back, and a listener that fails never fails the caller."""

import pytest
from django.db import transaction

from warehouse.audit import services
from warehouse.audit.models import AuditEvent
from warehouse.audit.services import audit_listener_add, audit_record


@pytest.fixture
def calls(monkeypatch):
    """A listener of our own, alone in the list for this test."""
    monkeypatch.setattr(services, "_listeners", [])
    seen: list[str] = []
    audit_listener_add(lambda: seen.append("called"))
    return seen


def test_it_calls_listeners_once_after_the_transaction_commits(transactional_db, calls):
    with transaction.atomic():
        audit_record(actor=None, action="test.first")
        audit_record(actor=None, action="test.second")
        assert calls == []  # nothing before the commit

    assert calls == ["called"]
    assert AuditEvent.objects.count() == 2


def test_an_event_on_its_own_is_its_own_transaction(transactional_db, calls):
    audit_record(actor=None, action="test.alone")
    audit_record(actor=None, action="test.alone")

    assert calls == ["called", "called"]


def test_it_calls_nothing_when_the_transaction_rolls_back(transactional_db, calls):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="test.undone")
        raise RuntimeError("the caller fails")

    assert calls == []
    assert AuditEvent.objects.count() == 0


def test_an_event_after_a_rolled_back_savepoint_still_notifies(transactional_db, calls):
    with transaction.atomic():
        try:
            with transaction.atomic():
                audit_record(actor=None, action="test.undone")
                raise RuntimeError("the inner part fails")
        except RuntimeError:
            pass
        audit_record(actor=None, action="test.kept")

    assert calls == ["called"]
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.kept"]


def test_a_failing_listener_never_reaches_the_caller(transactional_db, calls, caplog):
    def broken():
        raise ConnectionError("broker down")

    audit_listener_add(broken)

    event = audit_record(actor=None, action="test.recorded")

    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert calls == ["called"]
    assert "Audit listener" in caplog.text


def test_a_listener_is_added_once(monkeypatch):
    monkeypatch.setattr(services, "_listeners", [])

    def listener():
        pass

    audit_listener_add(listener)
    audit_listener_add(listener)

    assert services._listeners == [listener]
