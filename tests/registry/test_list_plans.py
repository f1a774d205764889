"""The plans of the lists' queries on PostgreSQL: a search is answered by the trigram and id indexes, a page
after a cursor starts in the sort key's index where the cursor points, and a page of versions reads the
model's (model, number) index: none of them reads every model or every version.

As in test_model_list_plan.py, sequential scans are off (tiny test tables make them the cheapest plan), so
the plan shows what each query can use at scale."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import model_create_for_tests, version_register_for_tests
from warehouse.registry.listing import Window, cursor_for, model_list_page, version_list_page
from warehouse.registry.selectors import ModelFilters

pytestmark = pytest.mark.postgres


def plans_of(call) -> list[str]:
    """The plan of each query `call` runs on the registry's tables."""
    with CaptureQueriesContext(connection) as queries:
        call()
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries.captured_queries:
            if 'FROM "registry_' in query["sql"] and "pg_class" not in query["sql"]:
                cursor.execute(f"EXPLAIN {query['sql']}")
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


@pytest.fixture
def models(contributor, team):
    return [model_create_for_tests(actor=contributor, name=f"model-{index}", team=team) for index in range(3)]


@pytest.mark.parametrize("as_who", ["contributor", "superuser"])
@pytest.mark.parametrize("term", ["fraud", "carol", "payments"])
def test_a_search_is_answered_by_indexes(models, request, as_who, term):
    user = request.getfixturevalue(as_who)
    if term == "fraud":  # found by name: two, so that the list does not fit on a page of one
        for index in range(2):
            model_create_for_tests(actor=request.getfixturevalue("contributor"), name=f"fraud-{index}")

    # Pages of one, so that the list does not fit on its first page and is counted.
    window = Window(size=1)
    page, count, *_ = plans_of(
        lambda: model_list_page(user=user, filters=ModelFilters(search=term), window=window)
    )

    for plan in (count, page):
        assert "Seq Scan on registry_registeredmodel" not in plan, plan
    # The name and the description by their trigram indexes. (The page may rather walk the name's index
    # and stop at the 51st match, as it does for a term most models match.)
    assert "registry_model_name_trgm" in count and "registry_model_description_trgm" in count, count
    if term in ("carol", "payments"):
        # The owner's or the team's models through the id's index, with the ids found beforehand.
        key = "registry_model_owner_key" if term == "carol" else "registry_model_team_key"
        assert f"Bitmap Index Scan on {key}" in count, count


def test_a_page_after_a_cursor_starts_where_the_cursor_points(models, contributor):
    cursor = cursor_for(kind="models", key="model-1")

    _, page, _ = plans_of(lambda: model_list_page(user=contributor, window=Window(size=2, cursor=cursor)))

    assert "Seq Scan on registry_registeredmodel" not in page, page
    assert "Index Scan using registry_registeredmodel_name_key" in page, page
    assert "Index Cond: ((name)::text > 'model-1'::text)" in page, page


def test_a_page_of_versions_reads_the_models_number_index(model, contributor):
    for _ in range(3):
        version_register_for_tests(actor=contributor, model=model, slices=0)
    cursor = cursor_for(kind="versions", key=3)

    count, page = plans_of(lambda: version_list_page(model=model, window=Window(size=2, cursor=cursor)))

    for plan in (count, page):
        assert "Seq Scan on registry_modelversion" not in plan, plan
    # The model's own versions, through an index on the model (which of its indexes depends on the
    # statistics the rest of the suite left behind): never every version of the registry.
    assert (
        f"Index Cond: ((model_id = {model.pk})" in page or f"Index Cond: (model_id = {model.pk})" in page
    ), page
