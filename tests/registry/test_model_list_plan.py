"""The models list's query plans on PostgreSQL. For a reader of much of a large registry, a page walks the
name's index and checks each model it reaches against the reader's grants by one index lookup, never
hashing every grant the reader holds first (5 ms a page at 10,000 grants). What each model shows (its
versions counted by stage, its production version, its last registration) is one grouped read of the
page's models' versions through their index, never a grouping of every version of every model before the
page is cut (which made a page of 50 cost 50 ms at 5,000 models and grow with the registry)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import model_create_for_tests, version_move, version_register_for_tests
from warehouse.accounts import visibility
from warehouse.registry.listing import Window, model_list_page
from warehouse.registry.models import Stage
from warehouse.registry.selectors import ModelFilters, models_versions_counted

pytestmark = pytest.mark.postgres


def plans_of(call) -> dict[str, str]:
    """The plan of each query `call` runs on the registry's tables, by the table it reads from."""
    with CaptureQueriesContext(connection) as queries:
        call()
    plans = {}
    with connection.cursor() as cursor:
        # Tiny test tables make a sequential scan the cheapest plan; off, the plan shows what the query can
        # use at scale: an index scan wherever one exists.
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries.captured_queries:
            sql = query["sql"]
            if 'FROM "registry_' not in sql or "pg_class" in sql:
                continue
            kind = "count" if sql.startswith("SELECT COUNT(*)") else sql.split(" FROM ", 1)[1].split()[0]
            cursor.execute(f"EXPLAIN {sql}")
            plans[kind.strip('"')] = "\n".join(row[0] for row in cursor.fetchall())
    return plans


@pytest.mark.parametrize("filters", [ModelFilters(), ModelFilters(stage=Stage.PRODUCTION, search="fraud")])
def test_a_page_of_models_never_groups_every_version(model, version, contributor, filters):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    version_register_for_tests(actor=contributor, model=model)

    plans = plans_of(lambda: model_list_page(user=contributor, filters=filters))

    counted = plans["registry_modelversion"]
    assert "Seq Scan on registry_modelversion" not in counted, counted
    # The page's models only, by the versions' index on the model.
    assert "Index Cond: (model_id" in counted, counted


def test_each_model_on_a_page_is_checked_against_the_readers_grants_on_its_own(
    monkeypatch, contributor, team
):
    # As for a reader of most of a large registry (accounts/visibility.py decides).
    monkeypatch.setattr(visibility, "walk_from", lambda **sizes: 1)
    for index in range(3):
        model_create_for_tests(actor=contributor, name=f"model-{index}", team=team)

    # Pages of one, so that the list does not fit on its first page and is counted.
    plans = plans_of(lambda: model_list_page(user=contributor, window=Window(size=1)))

    for plan in (plans["count"], plans["registry_registeredmodel"]):
        assert "hashed SubPlan" not in plan, plan
        # One lookup of the grant for the model at hand, by the grant's object key.
        assert "object_pk" in plan and "Index" in plan, plan


def test_the_counts_are_the_versions_by_stage(model, contributor, version):
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    version_register_for_tests(actor=contributor, model=model)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    [shown] = model_list_page(user=contributor).rows

    assert (shown.version_count, shown.draft_count, shown.staging_count, shown.archived_count) == (3, 1, 1, 0)
    assert shown.production_number == version.number
    assert shown.last_registered_at == model.versions.order_by("-created_at").first().created_at


def test_each_model_gets_its_own_counts(contributor, team):
    first = model_create_for_tests(actor=contributor, name="first-model", team=team)
    second = model_create_for_tests(actor=contributor, name="second-model", team=team)
    version_register_for_tests(actor=contributor, model=second)

    shown = models_versions_counted([first, second])

    assert [(model.name, model.version_count, model.draft_count) for model in shown] == [
        ("first-model", 1, 1),
        ("second-model", 2, 2),
    ]
    assert models_versions_counted([]) == []
