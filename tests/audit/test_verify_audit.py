"""`manage.py verify_audit` proves the trail was not rewritten, or names the first sequence that was."""

import datetime as dt
import io
import re

import pytest
from django.core.management import CommandError, call_command

from warehouse.audit.models import AuditEvent
from warehouse.audit.services import audit_record


def verify(*args: str) -> tuple[int, str, str]:
    """Run the command as an operator would: its exit code, what it printed, and what it complained."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def trail(db, superuser):
    for index in range(6):
        audit_record(
            actor=superuser, action="test.recorded", model_name="fraud-scorer", data={"index": index}
        )
    return list(AuditEvent.objects.order_by("sequence"))


def test_it_passes_an_intact_trail(trail):
    code, out, err = verify()

    assert code == 0
    assert "Audit chain intact: 6 events verified." in out
    assert err == ""


def test_it_passes_an_empty_trail(db):
    code, out, _ = verify()

    assert code == 0
    assert "0 events verified" in out


def test_it_passes_the_trail_the_services_write(model, version, contributor):
    from tests.factories import version_move
    from warehouse.registry.models import Stage

    version_move(version, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED, actor=contributor)

    code, out, _ = verify()

    assert code == 0
    assert f"{AuditEvent.objects.count()} events verified" in out


def test_it_names_a_row_changed_behind_its_back(trail, tamper):
    assert tamper("UPDATE audit_auditevent SET action = %s WHERE sequence = 4", ["test.forged"]) == 1

    code, out, err = verify()

    assert code == 1
    assert out == ""
    assert "Audit chain BROKEN at sequence 4" in err
    assert "sequence 4 was changed after it was written (hash mismatch)" in err
    assert "3 events before it verified" in err


@pytest.mark.parametrize(
    "column, sql_value",
    [
        ("actor_label", "'someone-else'"),
        ("via", "'web'"),
        ("target_label", "'other'"),
        ("model_name", "'other'"),
        ("created_at", "created_at"),
        ("actor_id", "NULL"),
    ],
)
def test_it_notices_a_change_to_any_column(trail, tamper, column, sql_value):
    if column == "created_at":
        sql_value = "'2020-01-01 00:00:00+00'" if _on_postgres() else "'2020-01-01 00:00:00'"
    tamper(f"UPDATE audit_auditevent SET {column} = {sql_value} WHERE sequence = 2")

    code, _, err = verify()

    assert code == 1
    assert "BROKEN at sequence 2" in err


def test_it_notices_changed_data(trail, tamper):
    tamper("UPDATE audit_auditevent SET data = %s WHERE sequence = 5", ['{"index": 40}'])

    code, _, err = verify()

    assert (code, "BROKEN at sequence 5" in err) == (1, True)


def test_it_notices_a_rehashed_row_that_no_longer_links(trail, tamper):
    # The forger recomputes the row's own hash; the next row still names the old one.
    from warehouse.audit.chain import event_hash, stored_content

    forged = AuditEvent.objects.get(sequence=3)
    forged.data = {"index": 99}
    tamper(
        "UPDATE audit_auditevent SET data = %s, hash = %s WHERE sequence = 3",
        ['{"index": 99}', event_hash(forged.prev_hash, stored_content(forged))],
    )

    code, _, err = verify()

    assert code == 1
    assert "sequence 4 does not link to the hash of the event before it" in err


def test_it_reports_a_deleted_row_as_missing(trail, tamper):
    assert tamper("DELETE FROM audit_auditevent WHERE sequence = 3") == 1

    code, _, err = verify()

    assert code == 1
    assert "BROKEN at sequence 3: sequence 3 is missing (the next stored event is 4)" in err


def test_it_reports_a_missing_first_row(trail, tamper):
    tamper("DELETE FROM audit_auditevent WHERE sequence = 1")

    code, _, err = verify()

    assert code == 1
    assert "sequence 1 is missing" in err


def test_it_notices_renumbered_rows(trail, tamper):
    # Close the gap left by a deleted row: the renumbered rows no longer match their hashes.
    tamper("DELETE FROM audit_auditevent WHERE sequence = 3")
    tamper("UPDATE audit_auditevent SET sequence = sequence - 1 WHERE sequence > 3")

    code, _, err = verify()

    assert code == 1
    assert "BROKEN at sequence 3" in err


def _on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def test_it_prints_the_head_to_keep_as_an_anchor(trail):
    _, out, _ = verify()

    assert f"Head: 6:{trail[-1].hash}" in out
    assert verify("--anchor", f"6:{trail[-1].hash}")[0] == 0


def test_an_anchor_catches_the_newest_events_cut_off(trail, tamper):
    anchor = f"6:{trail[-1].hash}"
    tamper("DELETE FROM audit_auditevent WHERE sequence >= 5")

    assert verify()[0] == 0  # what is left still links: the chain alone cannot tell
    code, _, err = verify("--anchor", anchor)

    assert code == 1
    assert "anchored sequence 6 is gone; the trail ends at 4" in err


def test_an_anchor_catches_a_rewritten_chain(trail, tamper):
    code, _, err = verify("--anchor", f"3:{'0' * 64}")

    assert code == 1
    assert "sequence 3 no longer has the anchored hash" in err


def test_it_refuses_a_malformed_anchor(trail):
    with pytest.raises(CommandError, match="SEQUENCE:HASH"):
        call_command("verify_audit", "--anchor", "six:abc")


# --- A long trail: streamed in batches, with progress and speed ----------------------------------------


@pytest.fixture
def long_trail(db, superuser):
    """Enough events for several of verify_audit's batches, with recorded events among the appended."""
    from bench.scale.audit_events import audit_events_append, synthetic_events
    from warehouse.audit.verification import BATCH

    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    audit_record(actor=superuser, action="test.first")
    audit_events_append(synthetic_events(BATCH + 10, start=start))
    audit_record(actor=superuser, action="test.middle")
    audit_events_append(synthetic_events(BATCH, start=start))
    return AuditEvent.objects.count()


def test_it_streams_a_long_trail_and_reports_progress_and_speed(long_trail):
    code, out, err = verify("--progress-every", "0")

    assert code == 0
    assert f"Audit chain intact: {long_trail} events verified." in out
    assert err.count("verify_audit: ") >= 2 and "events checked in" in err and "events/s)" in err
    speed = out.split("Speed: ")[1]
    for part in ("events/s", "MB/s of hashed content", "hashing alone:", "in memory", "ratio "):
        assert part in speed, part
    assert float(re.search(r"ratio (\d+\.\d+)", speed)[1]) > 0
    assert "Peak memory: " in speed


def test_quiet_prints_the_verdict_and_the_head_only(long_trail):
    code, out, err = verify("--quiet", "--progress-every", "0")

    assert (code, err) == (0, "")
    assert "Speed:" not in out and f"Head: {long_trail}:" in out


def test_it_names_a_change_in_a_later_batch(long_trail, tamper):
    from warehouse.audit.verification import BATCH

    broken = BATCH + 7
    tamper("UPDATE audit_auditevent SET target_label = 'forged' WHERE sequence = %s", [broken])

    code, out, err = verify()

    assert (code, out) == (1, "")
    assert f"Audit chain BROKEN at sequence {broken}:" in err and f"{broken - 1} events before it" in err


def test_it_stops_reading_at_a_change_in_the_first_batch(long_trail, tamper):
    tamper("UPDATE audit_auditevent SET via = 'forged' WHERE sequence = 2")

    code, _, err = verify()

    assert code == 1 and "BROKEN at sequence 2:" in err
    assert verify("--quiet")[0] == 1  # the reader let go of its cursor: the command runs again


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 1, 1, 0, 0, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 30, 23, 30, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(1999, 3, 28, 1, 2, 3, 40, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    ],
)
def test_the_stored_time_reads_as_the_text_that_was_hashed(db, moment):
    """PostgreSQL formats `created_at` while reading; the text must be the one the chain hashed."""
    from bench.scale.audit_events import audit_events_append, synthetic_events

    audit_events_append(synthetic_events(3, start=moment))

    assert verify()[0] == 0
