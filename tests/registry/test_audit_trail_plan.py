"""The audit trail page's query plans on PostgreSQL: a page of a million-event trail is read through indexes,
never by reading the trail.

The unfiltered page and its older and newer pages walk the sequence index from where the page starts. Each
filter box can be answered through an index: the text boxes (model, actor, action, `*` patterns) through
the trigram index, the times through the created_at index, and a reader who sees some models through the
(model_name, sequence) and actor indexes. Which of those PostgreSQL picks depends on how rare the match is
(a common one is found walking the sequence index backwards, a rare one through the trigram index); both
paths must exist, so each is pinned with the other switched off.
"""

import datetime as dt

import pytest
from django.db import connection

from warehouse.audit.selectors import AuditFilters, audit_event_list, model_names_matching
from warehouse.registry.models import RegisteredModel

pytestmark = pytest.mark.postgres

SEQUENCE_INDEX = "audit_auditevent_sequence_key"
TRIGRAM_INDEX = "audit_event_text_trgm"
WHEN = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def plan_of(queryset, *, bitmap_only: bool = False) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # Tiny test tables make a sequential scan the cheapest plan; off, the plan shows what the query can
        # use at scale. With index scans off too, what is left is a bitmap of the index a filter can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        if bitmap_only:
            cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan")
    assert "Seq Scan on audit_auditevent" not in plan, plan
    return plan


def page(filters: AuditFilters | None = None, visible=None, reader_id=None):
    return audit_event_list(
        visible_model_names=visible, filters=filters or AuditFilters(), reader_id=reader_id
    )


def test_the_newest_page_walks_the_sequence_index_backwards(db):
    plan = plan_of(page()[:51])

    assert f"Index Scan Backward using {SEQUENCE_INDEX}" in plan, plan


def test_an_older_page_starts_where_the_last_one_ended(db):
    plan = plan_of(page().filter(sequence__lt=500_000)[:51])

    assert SEQUENCE_INDEX in plan and "Index Cond: (sequence < " in plan, plan


def test_a_newer_page_starts_where_the_last_one_began(db):
    plan = plan_of(page().filter(sequence__gt=500_000).order_by("sequence")[:51])

    assert SEQUENCE_INDEX in plan and "Index Cond: (sequence > " in plan, plan


@pytest.mark.parametrize(
    "filters, column",
    [
        (AuditFilters(model_name="fraud"), "model_name"),
        (AuditFilters(actor="alice"), "actor_label"),
        (AuditFilters(action="*.refused"), "action"),
        (AuditFilters(action="refused"), "action"),
        (AuditFilters(action="version.*", model_name="churn", actor="ali"), "action"),
    ],
)
def test_each_text_filter_can_be_answered_through_the_trigram_index(db, filters, column):
    assert "Seq Scan" not in plan_of(page(filters)[:51])

    plan = plan_of(page(filters)[:51], bitmap_only=True)

    assert f"Bitmap Index Scan on {TRIGRAM_INDEX}" in plan, plan
    assert f"({column})::text ~* " in plan.split(f"Bitmap Index Scan on {TRIGRAM_INDEX}")[1], plan


@pytest.mark.parametrize(
    "filters", [AuditFilters(since=WHEN), AuditFilters(until=WHEN), AuditFilters(since=WHEN, until=WHEN)]
)
def test_the_time_filters_can_be_answered_through_the_time_index(db, filters):
    assert "Seq Scan" not in plan_of(page(filters)[:51])

    plan = plan_of(page(filters)[:51], bitmap_only=True)

    assert "Bitmap Index Scan on audit_audit_created_7710b7_idx" in plan, plan


def test_a_reader_who_sees_some_models_is_answered_through_the_model_index(db, viewer):
    visible = page(visible=["fraud-scorer", "churn-ranker"], reader_id=viewer.pk)
    assert "Seq Scan" not in plan_of(visible[:51])

    plan = plan_of(visible[:51], bitmap_only=True)

    assert "Bitmap Index Scan on audit_event_model_seq_idx" in plan, plan
    assert "actor_id" in plan and "BitmapOr" in plan, plan


@pytest.mark.parametrize("pattern", ["fraud-sc", "fraud*scorer"])
def test_the_models_a_model_box_matches_are_found_through_the_names_trigram_index(db, pattern):
    # For a reader of many models, the names the box matches among those they see are read first: through
    # the trigram index, not by walking every model's name (what the regular expression alone did).
    matching = RegisteredModel.objects.filter(model_names_matching(pattern)).order_by("name")[:201]
    sql, params = matching.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan")

    assert "Bitmap Index Scan on registry_model_name_trgm" in plan, plan
