"""The models list's query plan on PostgreSQL: what each model shows (its versions counted by stage, its
production version, its last registration) is looked up per model shown, through the versions' indexes,
never by grouping every version of every model before the page is cut (which made a page of 50 cost 50 ms
at 5,000 models and grow with the registry)."""

import pytest
from django.db import connection

from tests.factories import version_move, version_register_for_tests
from warehouse.registry.models import Stage
from warehouse.registry.selectors import ModelFilters, model_list_for_user

pytestmark = pytest.mark.postgres


def plan_of(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # Tiny test tables make a sequential scan the cheapest plan; off, the plan shows what the query can
        # use at scale: an index scan wherever one exists.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("filters", [ModelFilters(), ModelFilters(stage=Stage.PRODUCTION, search="fraud")])
def test_a_page_of_models_never_groups_every_version(model, contributor, filters):
    version_register_for_tests(actor=contributor, model=model)

    plan = plan_of(model_list_for_user(user=contributor, filters=filters)[:50])

    assert "Seq Scan on registry_modelversion" not in plan, plan
    assert "Group Key: registry_registeredmodel.id" not in plan, plan
    # Each model shown looks up its own versions by index.
    assert "Index Cond: (model_id = registry_registeredmodel.id)" in plan, plan


def test_the_counts_are_the_versions_by_stage(model, contributor, version):
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    version_register_for_tests(actor=contributor, model=model)

    [shown] = model_list_for_user(user=contributor)

    assert (shown.version_count, shown.draft_count, shown.staging_count, shown.archived_count) == (3, 2, 1, 0)
    assert shown.last_registered_at == model.versions.order_by("-created_at").first().created_at
