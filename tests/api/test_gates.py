"""Gate runs through the API: a pipeline asks for the gate of a version and polls the run until it is
finished; every refusal is JSON and on the record. Every answer is held to the OpenAPI document. Finished
runs are made by calling the worker's service directly (the worker itself is tested in tests/promotions)."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.support import API, bearer, error_fields, get, locked_out, own_statuses, post_json
from tests.factories import version_move, version_register_for_tests
from tests.promotions.test_pages import gate_finished, regressing_candidate
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates.comparison import SliceVerdict
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.promotions.models import GateRun, GateState
from warehouse.promotions.policies.rules import Check
from warehouse.registry.models import Stage

RUNS = "/models/{name}/versions/{number}/gate-runs"
RUN = "/models/{name}/versions/{number}/gate-runs/{run_id}"
SERVER = f"{settings.WAREHOUSE_BASE_URL}/api/v1"


@pytest.fixture
def candidate(model, version, contributor):
    """fraud-scorer v3 in staging, worse than production v2 on two slices."""
    return regressing_candidate(model, version, contributor)


def runs_path(version) -> str:
    return f"/models/{version.model.name}/versions/{version.number}/gate-runs"


# --- The contract -----------------------------------------------------------------------------------------


def test_every_answer_of_the_gate_endpoints_matches_the_document(
    client, contract, model, version, candidate, contributor, viewer, outsider
):
    writer, reader, stranger = bearer(contributor), bearer(viewer), bearer(outsider)
    locked = locked_out(client, contributor)
    seen: set[tuple[str, str, int]] = set()

    def check(response, path, method="get"):
        contract.check(response, path, method)
        seen.add((path, method, response.status_code))
        return response

    runs = runs_path(candidate)
    check(get(client, runs, **reader), RUNS)  # none yet
    started = check(post_json(client, runs, {"target_stage": "production"}, **writer), RUNS, "post").json()
    check(get(client, f"{runs}/{started['id']}", **reader), RUN)  # queued, no results yet
    gate_run_execute(run_id=started["id"])
    check(get(client, f"{runs}/{started['id']}", **reader), RUN)  # finished, with results
    check(get(client, runs, **reader), RUNS)
    for path, concrete in [(RUNS, runs), (RUN, f"{runs}/{started['id']}")]:
        check(get(client, concrete), path)
        check(get(client, concrete, **stranger), path)
        check(get(client, concrete, **locked), path)
    check(get(client, f"{runs}/999", **reader), RUN)

    check(post_json(client, runs, {"target_stage": "archived"}, **writer), RUNS, "post")
    check(post_json(client, runs, {"target_stage": "production"}), RUNS, "post")
    check(post_json(client, runs, {"target_stage": "production"}, **reader), RUNS, "post")
    check(post_json(client, runs, {"target_stage": "production"}, **stranger), RUNS, "post")
    check(post_json(client, runs, {"target_stage": "production"}, **locked), RUNS, "post")
    check(post_json(client, runs_path(version), {"target_stage": "staging"}, **writer), RUNS, "post")

    contract.check_component(client.delete(f"{API}{runs}/{started['id']}", **writer), "MethodNotAllowed")

    documented = {
        (path, method, int(status))
        for path, item in contract.document["paths"].items()
        if path in (RUNS, RUN)
        for method, operation in item.items()
        if method != "parameters"
        for status in own_statuses(operation)
    }
    assert documented - seen == set()


# --- Starting a gate --------------------------------------------------------------------------------------


def test_a_pipeline_starts_a_gate_and_is_told_where_to_poll(client, contract, candidate, contributor):
    response = post_json(client, runs_path(candidate), {"target_stage": "production"}, **bearer(contributor))

    assert response.status_code == 202, response.content
    body = contract.check(response, RUNS, "post")
    run = GateRun.objects.get()
    assert (body["id"], body["state"], body["target_stage"]) == (run.pk, "pending", "production")
    assert body["progress"] == {"done": 0, "total": len(Check.ALL)}
    assert (
        response["Location"]
        == body["api_url"]
        == f"{SERVER}/models/fraud-scorer/versions/3/gate-runs/{run.pk}"
    )
    assert body["url"].endswith(f"/models/fraud-scorer/versions/3/gates/{run.pk}/")
    assert body["policy_revision"]["scope"] == "global" and body["baseline"] is None
    event = AuditEvent.objects.order_by("-sequence").first()
    assert (event.action, event.actor, event.via[:10]) == ("gate.requested", contributor, "api-token:")

    again = post_json(client, runs_path(candidate), {"target_stage": "production"}, **bearer(contributor))
    assert again.status_code == 202 and again.json()["id"] == run.pk
    assert GateRun.objects.count() == 1


def test_a_gate_for_a_stage_that_is_not_next_is_409_and_on_the_record(
    client, contract, model, version, contributor
):
    response = post_json(client, runs_path(version), {"target_stage": "production"}, **bearer(contributor))

    assert response.status_code == 409
    error = contract.check(response, RUNS, "post")["error"]
    assert error["code"] == "not_next_stage" and "cannot be gated for Production" in error["message"]
    assert not GateRun.objects.exists()
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert (refusal.action, refusal.data["code"]) == ("gate.refused", "not_next_stage")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"target_stage": "archived"}, {"target_stage"}),
        ({}, {"target_stage"}),
        ({"target_stage": ["staging"]}, {"target_stage"}),
        ({"target_stage": "staging", "force": True}, {"force"}),
        (["staging"], {"body"}),
    ],
)
def test_a_bad_request_is_400_and_writes_nothing(client, contract, model, version, contributor, body, fields):
    response = post_json(client, runs_path(version), body, **bearer(contributor))
    assert response.status_code == 400
    contract.check(response, RUNS, "post")
    assert set(error_fields(response)) == fields
    assert not GateRun.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("contributor", 202),
        ("superuser", 202),
        ("viewer", 403),
        ("reviewer", 403),
        ("approver", 403),
        ("responder", 403),
        ("policy_admin", 403),
        ("outsider", 404),
    ],
)
def test_only_those_who_may_request_promotion_start_a_gate(
    client, contract, request, candidate, role, status
):
    user = request.getfixturevalue(role)
    headers = bearer(user)
    events = AuditEvent.objects.count()

    response = post_json(client, runs_path(candidate), {"target_stage": "production"}, **headers)

    assert response.status_code == status, response.content
    contract.check(response, RUNS, "post")
    assert GateRun.objects.exists() is (status == 202)
    if status == 403:
        assert AuditEvent.objects.count() == events + 1
        refusal = AuditEvent.objects.order_by("-sequence").first()
        assert (refusal.action, refusal.actor, refusal.data["permission"]) == (
            "permission.denied",
            user,
            "registry.request_promotion",
        )


# --- Reading runs -----------------------------------------------------------------------------------------


def test_a_finished_run_answers_its_results_baseline_and_policy(
    client, contract, candidate, contributor, viewer
):
    run = gate_finished(candidate, contributor)

    body = contract.check(get(client, f"{runs_path(candidate)}/{run.pk}", **bearer(viewer)), RUN, "get")

    assert body["state"] == GateState.FAILED and body["progress"] == {"done": 11, "total": 11}
    assert body["attempts"] == 1 and body["error"] is None
    assert body["started_at"] and body["finished_at"] and body["duration_seconds"] >= 0
    assert body["baseline"] == {
        "id": "fraud-scorer/v2",
        "version": 2,
        "url": f"{settings.WAREHOUSE_BASE_URL}/models/fraud-scorer/versions/2/",
        "api_url": f"{SERVER}/models/fraud-scorer/versions/2",
    }
    assert body["policy_revision"]["api_url"] == f"{SERVER}/policy/revisions/1"
    assert [result["check"] for result in body["results"]] == list(Check.ALL)
    slices = next(result for result in body["results"] if result["check"] == "slices")
    assert (slices["status"], slices["required"], slices["title"]) == ("failed", True, "Slice regressions")
    assert [row["slice"] for row in slices["numbers"]["rows"] if row["verdict"] == "worse"] == [
        "region=r0",
        "region=r4",
    ]


def test_the_list_is_newest_first_without_results(client, contract, model, version, contributor, viewer):
    first = gate_finished(version, contributor, "staging")
    second = gate_run_start(actor=contributor, version=version, target_stage="staging")

    body = contract.check(get(client, runs_path(version), **bearer(viewer)), RUNS, "get")

    assert body["count"] == 2
    assert [(run["id"], run["state"]) for run in body["results"]] == [
        (second.pk, "pending"),
        (first.pk, "passed"),
    ]
    assert "results" not in body["results"][0]


def test_a_run_of_another_version_is_404(client, model, version, candidate, contributor, viewer):
    run = gate_finished(candidate, contributor)
    response = get(client, f"{runs_path(version)}/{run.pk}", **bearer(viewer))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_an_outsider_cannot_tell_a_hidden_run_from_a_missing_one(client, candidate, contributor, outsider):
    run = gate_finished(candidate, contributor)
    hidden = get(client, f"{runs_path(candidate)}/{run.pk}", **bearer(outsider))
    missing = get(client, f"/models/no-such-model/versions/3/gate-runs/{run.pk}", **bearer(outsider))
    assert (hidden.status_code, hidden.json()) == (404, missing.json())


# --- Query budgets ----------------------------------------------------------------------------------------


def _count(client, path, headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert get(client, path, **headers).status_code == 200
    return len(queries)


def test_reading_runs_does_not_run_a_query_per_run_or_slice(client, model, version, contributor, viewer):
    headers = bearer(viewer)
    get(client, "/models", **headers)  # the token's first use is recorded once
    gate_finished(version, contributor, "staging")
    one_run = _count(client, runs_path(version), headers)
    while GateRun.objects.filter(version=version).count() < 50:
        gate_finished(version, contributor, "staging")
    assert _count(client, runs_path(version), headers) == one_run

    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    counts = []
    for slices in (1, 50):
        baseline = version_register_for_tests(actor=contributor, model=model, slices=slices)
        version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
        candidate = version_register_for_tests(actor=contributor, model=model, slices=slices)
        version_move(candidate, Stage.STAGING, actor=contributor)
        run = gate_finished(candidate, contributor)
        counts.append(_count(client, f"{runs_path(candidate)}/{run.pk}", headers))
    assert counts[0] == counts[1], counts


def test_every_slice_verdict_answered_is_a_documented_value(client, contract, candidate, contributor, viewer):
    run = gate_finished(candidate, contributor)

    body = contract.check(get(client, f"{runs_path(candidate)}/{run.pk}", **bearer(viewer)), RUN, "get")

    schemas = contract.document["components"]["schemas"]
    documented = schemas["SliceRow"]["properties"]["verdict"]["enum"]
    assert documented == list(SliceVerdict.ALL)
    assert "missing_from_candidate" in documented and "regressed" not in documented
    statuses = schemas["CheckResult"]["properties"]["status"]["enum"]
    assert "not_configured" in statuses
    slices = next(result for result in body["results"] if result["check"] == "slices")
    assert slices["numbers"]["rows"]
    assert {row["verdict"] for row in slices["numbers"]["rows"]} <= set(documented)


# PostgreSQL's replication role is how the test gets past the append-only trigger; SQLite has no such switch.
@pytest.mark.postgres
def test_a_run_recorded_with_the_old_verdict_names_answers_the_new_ones(
    client, contract, candidate, contributor, viewer
):
    run = gate_finished(candidate, contributor)
    # Check results are append-only: write the old names the way a run recorded before the rename did.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        result = run.results.get(check_name="slices")
        numbers = result.numbers
        legacy = {"worse": "regressed", "within_tolerance": "within", "better": "improved"}
        numbers["rows"] = [
            row | {"verdict": legacy.get(row["verdict"], row["verdict"])} for row in numbers["rows"]
        ]
        type(result).objects.filter(pk=result.pk).update(numbers=numbers)
        cursor.execute("SET session_replication_role = DEFAULT")

    body = contract.check(get(client, f"{runs_path(candidate)}/{run.pk}", **bearer(viewer)), RUN, "get")

    slices = next(result for result in body["results"] if result["check"] == "slices")
    assert [row["slice"] for row in slices["numbers"]["rows"] if row["verdict"] == "worse"] == [
        "region=r0",
        "region=r4",
    ]
