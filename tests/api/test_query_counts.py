"""Query budgets: a fixed number of queries whatever the number of rows (DESIGN: performance budgets).

Counts include the SAVEPOINT/RELEASE statements of nested atomic blocks, as the test transaction turns every
atomic block into a savepoint.
"""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.support import bearer, get, post_json
from tests.factories import evidence_payload, model_create_for_tests, version_move, version_register_for_tests
from warehouse.registry.models import ModelVersion, SliceMetric, Stage

# Each includes the token lookup. Measured on SQLite and PostgreSQL alike: list 5 (token, the reader: their
# teams, the registry's size and their grants, count, page, the page's versions counted), versions 5
# (token, model, access, count, page), version 10.
REGISTER_BUDGET = 29
LIST_MODELS_BUDGET = 5
LIST_VERSIONS_BUDGET = 5
VERSION_DETAIL_BUDGET = 10


def _count(call) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, len(queries)


@pytest.fixture
def headers(client, contributor):
    headers = bearer(contributor)
    # The first call of a token records its use (one UPDATE a minute); measure the calls after it.
    get(client, "/models", **headers)
    return headers


def test_registering_500_slices_stays_under_30_queries(client, model, headers, django_assert_max_num_queries):
    with django_assert_max_num_queries(REGISTER_BUDGET):
        response = post_json(client, "/models/fraud-scorer/versions", evidence_payload(slices=500), **headers)

    assert response.status_code == 201, response.content
    assert SliceMetric.objects.filter(report__version__uuid=response.json()["uuid"]).count() == 500


def test_registering_does_not_run_a_query_per_slice(client, model, headers):
    one, few = _count(
        lambda: post_json(client, "/models/fraud-scorer/versions", evidence_payload(slices=1), **headers)
    )
    many, lots = _count(
        lambda: post_json(client, "/models/fraud-scorer/versions", evidence_payload(slices=500), **headers)
    )

    assert one.status_code == many.status_code == 201
    # Slices are inserted in bulk; SQLite caps the parameters of a statement (999: 199 slices a statement).
    fields = [field for field in SliceMetric._meta.concrete_fields if not field.primary_key]
    per_statement = min(1000, connection.ops.bulk_batch_size(fields, [None] * 500))
    extra_batches = math.ceil(500 / per_statement) - 1
    assert lots - few == extra_batches, (few, lots)


@pytest.mark.parametrize("rows", [1, 50])
def test_listing_models_runs_a_fixed_number_of_queries(
    client, contract, team, contributor, headers, rows, django_assert_max_num_queries
):
    for index in range(rows):
        model = model_create_for_tests(actor=contributor, name=f"model-{index:02d}", team=team)
        if index % 3 == 0:
            version_move(model.versions.get(), Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    with django_assert_max_num_queries(LIST_MODELS_BUDGET):
        response = get(client, "/models", **headers)

    body = contract.check(response, "/models", "get")
    assert body["count"] == rows and len(body["results"]) == rows
    assert body["results"][0]["production_version"] == 1 and body["results"][0]["version_count"] == 1


@pytest.mark.parametrize("rows", [1, 50])
def test_listing_versions_runs_a_fixed_number_of_queries(
    client, contract, model, contributor, headers, rows, django_assert_max_num_queries
):
    for _ in range(rows - 1):
        version_register_for_tests(actor=contributor, model=model, slices=0)
    if rows > 1:
        # A production version with a rollback target, and an archived one: every field of a row is filled.
        version_move(model.versions.get(number=1), Stage.STAGING, Stage.PRODUCTION, actor=contributor)
        version_move(model.versions.get(number=2), Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    with django_assert_max_num_queries(LIST_VERSIONS_BUDGET):
        response = get(client, "/models/fraud-scorer/versions", **headers)

    body = contract.check(response, "/models/{name}/versions", "get")
    assert body["count"] == rows == ModelVersion.objects.filter(model=model).count()
    if rows > 1:
        assert body["results"][-2]["rollback_target"] == "fraud-scorer/v1"


@pytest.mark.parametrize("slices", [1, 500])
def test_a_version_runs_a_fixed_number_of_queries_whatever_its_evidence(
    client, contract, model, contributor, headers, slices, django_assert_max_num_queries
):
    # Against a production baseline with as many slices, so both sides of the comparison are read.
    version_move(
        version_register_for_tests(actor=contributor, model=model, slices=slices),
        Stage.STAGING,
        Stage.PRODUCTION,
        actor=contributor,
    )
    version_register_for_tests(actor=contributor, model=model, slices=slices)

    with django_assert_max_num_queries(VERSION_DETAIL_BUDGET):
        response = get(client, "/models/fraud-scorer/versions/3", **headers)

    assert (
        len(contract.check(response, "/models/{name}/versions/{number}", "get")["evaluation"]["slices"])
        == slices
    )


def test_the_list_budgets_are_the_same_at_1_and_50_rows(client, team, contributor, headers):
    """Not just under a bound: exactly the same number of queries for 1 row as for 50."""
    model_create_for_tests(actor=contributor, name="model-00", team=team)
    _, models_at_1 = _count(lambda: get(client, "/models", **headers))
    _, versions_at_1 = _count(lambda: get(client, "/models/model-00/versions", **headers))

    model = None
    for index in range(1, 50):
        model = model_create_for_tests(actor=contributor, name=f"model-{index:02d}", team=team)
    for _ in range(49):
        version_register_for_tests(actor=contributor, model=model, slices=0)
    _, models_at_50 = _count(lambda: get(client, "/models", **headers))
    _, versions_at_50 = _count(lambda: get(client, f"/models/{model.name}/versions", **headers))

    assert (models_at_1, versions_at_1) == (models_at_50, versions_at_50)
