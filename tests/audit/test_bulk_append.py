"""`audit_events_append` (bench/scale) grows the trail fast for scale checks: its events are sealed as
`audit_record` seals them, continue the chain from its head, and interleave with events recorded the usual
way, so `verify_audit` passes on the mix, on both databases."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from bench.scale.audit_events import RARE_MODEL, RARE_PERSON, audit_events_append, synthetic_events
from warehouse.audit.chain import chain_verify, event_hash, stored_content
from warehouse.audit.models import GENESIS_HASH, AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.audit.services import audit_record

START = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


def verify_output() -> str:
    import io

    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_starts_a_chain_from_the_genesis_hash(db):
    assert audit_events_append(synthetic_events(5, start=START), batch=2) == 5

    events = list(audit_events_in_sequence())
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert chain_verify(events).ok
    assert events[0].created_at == START


def test_it_continues_the_chain_between_recorded_events(db, superuser, model):
    already = AuditEvent.objects.count()  # the model's creation
    audit_record(actor=superuser, action="test.before", model_name=model.name, data={"n": 1})
    audit_events_append(synthetic_events(7, start=START), batch=3)
    audit_record(actor=superuser, action="test.between", model_name=model.name)
    audit_events_append(synthetic_events(4, start=START), batch=50)
    audit_record(actor=superuser, action="test.after", target=model, model_name=model.name)

    actions = list(audit_events_in_sequence().values_list("action", flat=True))[already:]
    assert len(actions) == 14
    assert (actions[0], actions[8], actions[13]) == ("test.before", "test.between", "test.after")
    assert f"Audit chain intact: {already + 14} events verified." in verify_output()


def test_each_event_hashes_as_audit_record_would_hash_it(db, superuser, model):
    """Every column the event names, stored and read back as the database returns it: numbers PostgreSQL
    rewrites (1e16, -0.0), a Decimal, a datetime, text with tabs and newlines (COPY's own separators)."""
    already = AuditEvent.objects.count()
    written = audit_events_append(
        [
            {
                "created_at": START,
                "actor_id": superuser.pk,
                "actor_label": superuser.username,
                "via": "api-token:wh_abcd",
                "action": "test.bulk",
                "target_type": "registry.registeredmodel",
                "target_id": model.pk,
                "target_label": "tab\there,\nnewline \\ backslash " + "x" * 400,
                "model_name": model.name,
                "data": {
                    "big": 1e16,
                    "zero": -0.0,
                    "price": Decimal("0.10"),
                    "at": START,
                    "nested": [{"é": "ü"}, None, True],
                },
            }
        ]
    )
    audit_record(actor=superuser, action="test.after")

    event = AuditEvent.objects.get(action="test.bulk")
    assert written == 1
    assert event.actor_id == superuser.pk and event.target_id == str(model.pk)
    assert event.target_label.startswith("tab\there,\nnewline \\ backslash ")
    assert len(event.target_label) == 300
    assert event.data["big"] == 10000000000000000 and event.data["price"] == "0.10"
    assert event_hash(event.prev_hash, stored_content(event)) == event.hash
    assert f"Audit chain intact: {already + 2} events verified." in verify_output()


def test_it_refuses_a_time_without_a_zone_and_writes_nothing(db):
    events = list(synthetic_events(3, start=START))
    events[2]["created_at"] = events[2]["created_at"].replace(tzinfo=None)

    with pytest.raises(ValueError, match="aware datetime"):
        audit_events_append(events)

    assert not AuditEvent.objects.exists()


def test_the_synthetic_trail_has_rare_events_among_common_ones(db):
    events = list(synthetic_events(20_000, start=START))

    refused = [e for e in events if e["action"].endswith(".refused")]
    assert len(refused) == 20  # one event in 1,000
    assert len({e["model_name"] for e in events}) == 201  # 200 models and the rare one
    assert [e["model_name"] for e in events].count(RARE_MODEL) == 2
    assert [e["actor_label"] for e in events].count(RARE_PERSON) == 2
    assert {"system", "alice", "fraud-scorer"} <= {e["actor_label"] for e in events} | {
        e["model_name"] for e in events
    }
