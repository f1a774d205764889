"""Every append-only or immutable table holds its refusal triggers on the database the tests run on, after
all migrations: SQLite rebuilds a table to change one of its fields and drops its triggers on the way, as
it once did to the gate runs' check results (promotions 0009 put them back)."""

import pytest
from django.db import connection

REFUSING = [
    "audit_auditevent",
    "promotions_checkresult",
    "promotions_policyrevision",
    "promotions_signoff",
    "registry_artifact",
    "registry_evaluationmetric",
    "registry_evaluationreport",
    "registry_performanceprofile",
    "registry_slicemetric",
    "registry_sourcerun",
]


def _has_update_refusal(table: str) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s", [f"{table}_refuse_row_change"])
        else:
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s", [f"{table}_refuse_update"]
            )
        return cursor.fetchone() is not None


@pytest.mark.django_db
@pytest.mark.parametrize("table", REFUSING)
def test_the_table_refuses_updates(table):
    assert _has_update_refusal(table), table
