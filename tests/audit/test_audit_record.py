"""`audit_record` appends one event to a hash chain: each event names the one before it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from warehouse import clock
from warehouse.audit.chain import canonical_json, chain_verify, event_hash, stored_content
from warehouse.audit.models import GENESIS_HASH, AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.audit.services import acting_via, audit_record


def _trail() -> list[AuditEvent]:
    return list(audit_events_in_sequence())


def test_it_builds_a_chain_from_the_genesis_hash(db, superuser):
    for index in range(5):
        audit_record(actor=superuser, action="test.recorded", data={"index": index})

    events = _trail()
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.prev_hash == earlier.hash
    assert len({e.hash for e in events}) == 5
    assert chain_verify(events).ok and chain_verify(events).checked == 5


def test_it_hashes_every_column_of_the_event(db, superuser, team):
    with acting_via("api-token:abcd1234"):
        event = audit_record(
            actor=superuser,
            action="model.created",
            target=team,
            target_label="payments team",
            model_name="fraud-scorer",
            data={"owner": "root"},
        )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.hash == event_hash(GENESIS_HASH, stored_content(stored))
    content = stored_content(stored)
    assert content == {
        "sequence": 1,
        "created_at": stored.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": superuser.pk,
        "actor_label": "root",
        "via": "api-token:abcd1234",
        "action": "model.created",
        "target_type": "auth.group",
        "target_id": str(team.pk),
        "target_label": "payments team",
        "model_name": "fraud-scorer",
        "data": {"owner": "root"},
    }
    for column, forged in [
        ("actor_label", "someone-else"),
        ("via", "web"),
        ("action", "model.deleted"),
        ("target_id", "999"),
        ("model_name", "other"),
        ("data", {"owner": "eve"}),
    ]:
        forged_content = {**content, column: forged}
        assert event_hash(GENESIS_HASH, forged_content) != stored.hash, column


def test_it_records_the_system_when_no_one_acts(db):
    event = audit_record(actor=None, action="sweeper.requeued")

    assert (event.actor_id, event.actor_label, event.via, event.target_type, event.target_id) == (
        None,
        "system",
        "",
        "",
        "",
    )


def test_it_labels_the_target_by_default(db):
    team = Group.objects.create(name="risk")

    event = audit_record(actor=None, action="team.created", target=team)

    assert (event.target_type, event.target_id, event.target_label) == ("auth.group", str(team.pk), "risk")


def test_it_stores_data_exactly_as_it_was_hashed(db):
    moment = dt.datetime(2026, 11, 26, 13, 39, 0, 123456, tzinfo=dt.UTC)

    audit_record(
        actor=None,
        action="test.types",
        data={
            "cost": Decimal("0.0125"),
            "when": moment,
            "ratio": 0.1,
            "big": 1e16,
            "huge": 1.5e300,
            "tiny": 1e-7,
            "negative_zero": -0.0,
            "count": 2**62,
            "text": "naïve ☃ \u2028",
            "nested": [{"b": 1, "a": [True, None]}],
        },
    )

    stored = AuditEvent.objects.get()
    # On PostgreSQL jsonb writes 1e16 back as 10000000000000000 and -0.0 as 0.0: the hash was made on that.
    assert stored.data["cost"] == "0.0125" and stored.data["when"] == "2026-11-26T13:39:00.123Z"
    assert stored.data["big"] == 10**16 and stored.data["negative_zero"] == 0.0
    assert chain_verify(_trail()).ok


def test_it_refuses_data_with_no_json_spelling(db):
    with pytest.raises(ValueError):
        audit_record(actor=None, action="test.nan", data={"value": float("nan")})

    assert not AuditEvent.objects.exists()


def test_it_hashes_the_same_content_the_same_way_on_every_database(db):
    # The canonical text: sorted keys, no spaces, UTF-8 kept, no NaN.
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(ValueError):
        canonical_json({"a": float("inf")})


def test_it_records_at_the_clock_the_services_use(db):
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)

    with clock.frozen_at(moment):
        event = audit_record(actor=None, action="seed.replayed")

    assert AuditEvent.objects.get(pk=event.pk).created_at == moment
    assert chain_verify(_trail()).ok


def test_it_belongs_to_the_callers_transaction(db, superuser):
    audit_record(actor=superuser, action="test.kept")

    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=superuser, action="test.rolled-back")
        raise RuntimeError("the caller's change failed")
    audit_record(actor=superuser, action="test.after")

    events = _trail()
    assert [(e.sequence, e.action) for e in events] == [(1, "test.kept"), (2, "test.after")]
    assert chain_verify(events).ok
