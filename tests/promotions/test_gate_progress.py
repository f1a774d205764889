"""Gate progress as it happens: the worker puts each finished check on the run, tied to its attempt, and the
gate pages answer htmx with their live part alone, polling while the gate is open and not after."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from tests.promotions.test_gate_service import started
from tests.promotions.test_pages import gate_finished, regressing_candidate, run_url
from tests.registry.test_pages import assert_queries_do_not_grow
from warehouse import clock
from warehouse.promotions.gates import checks
from warehouse.promotions.gates.checks import CheckOutcome
from warehouse.promotions.gates.services import (
    _claim,
    gate_run_execute,
    gate_run_progress_record,
    gate_run_start,
)
from warehouse.promotions.models import CheckResult, GateRun, GateState
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import Stage

HX = {"HTTP_HX_REQUEST": "true"}
CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


@pytest.fixture
def candidate(model, version, contributor):
    return regressing_candidate(model, version, contributor)


def outcome(status: str = "passed") -> CheckOutcome:
    return CheckOutcome(status, f"It {status}.", {"n": 1})


# --- The worker records each check as it finishes --------------------------------------------------------


def test_each_check_is_on_the_run_as_soon_as_it_finishes(version, contributor, monkeypatch):
    run = started(contributor, version)
    seen = {}

    def watching(name):
        original = checks.CHECKS[name]

        def check(snapshot):
            seen[name] = GateRun.objects.values_list("checks_done", "progress").get(pk=run.pk)
            return original(snapshot)

        return check

    for name in Check.ALL:
        monkeypatch.setitem(checks.CHECKS, name, watching(name))
    gate_run_execute(run_id=run.pk)

    for index, name in enumerate(Check.ALL):
        done, progress = seen[name]
        # When a check starts, every earlier one is on the run, in order, with its status and summary.
        assert done == index and [entry["check"] for entry in progress] == list(Check.ALL[:index])
    run.refresh_from_db()
    results = {r.check_name: (r.status, r.summary) for r in CheckResult.objects.filter(gate_run=run)}
    assert {e["check"]: (e["status"], e["summary"]) for e in run.progress} == results


def test_no_result_is_written_before_the_last_check(version, contributor, monkeypatch):
    run = started(contributor, version)
    counted = []
    original = checks.CHECKS[Check.ROLLBACK_TARGET]

    def last(snapshot):
        counted.append(CheckResult.objects.filter(gate_run=run).count())
        return original(snapshot)

    monkeypatch.setitem(checks.CHECKS, Check.ROLLBACK_TARGET, last)
    gate_run_execute(run_id=run.pk)
    assert counted == [0]  # the results stay the record, written once with the final state


def test_a_stale_attempt_cannot_write_progress(version, contributor):
    run = started(contributor, version)
    stale = _claim(run.pk)
    assert gate_run_progress_record(claim=stale, outcomes={Check.SOURCE_RUN: outcome()})
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))
    current = _claim(run.pk)

    assert not gate_run_progress_record(
        claim=stale, outcomes={Check.SOURCE_RUN: outcome(), Check.ARTIFACTS: outcome("failed")}
    )
    assert GateRun.objects.values_list("checks_done", "progress").get(pk=run.pk) == (0, [])

    assert gate_run_progress_record(claim=current, outcomes={Check.SOURCE_RUN: outcome("warning")})
    assert GateRun.objects.get(pk=run.pk).progress == [
        {"check": Check.SOURCE_RUN, "status": "warning", "summary": "It warning."}
    ]


def test_a_new_attempt_starts_with_empty_progress(version, contributor):
    run = started(contributor, version)
    first = _claim(run.pk)
    gate_run_progress_record(claim=first, outcomes={name: outcome() for name in Check.ALL[:5]})
    assert GateRun.objects.get(pk=run.pk).checks_done == 5
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))

    second = _claim(run.pk)

    run.refresh_from_db()
    assert (second.attempt, run.checks_done, run.progress) == (2, 0, [])


def test_progress_is_not_written_once_the_run_is_finished(version, contributor):
    run = started(contributor, version)
    stale = _claim(run.pk)
    GateRun.objects.filter(pk=run.pk).update(lease_expires_at=clock.now() - timedelta(seconds=1))
    assert gate_run_execute(run_id=run.pk) == "passed"
    final = GateRun.objects.get(pk=run.pk).progress

    assert not gate_run_progress_record(claim=stale, outcomes={Check.SOURCE_RUN: outcome("failed")})
    assert GateRun.objects.get(pk=run.pk).progress == final


# --- The live part of the pages ----------------------------------------------------------------------------


def _running(run, done: int) -> None:
    GateRun.objects.filter(pk=run.pk).update(
        state=GateState.RUNNING,
        attempts=1,
        checks_done=done,
        progress=[
            {"check": name, "status": "passed", "summary": f"{name} is fine."} for name in Check.ALL[:done]
        ],
    )


@pytest.mark.parametrize("page", ["gate-run", "gate-slices"])
def test_htmx_gets_the_live_part_alone_polling_while_the_run_is_open(
    client, candidate, contributor, viewer, page
):
    run = gate_run_start_for(candidate, contributor)
    _running(run, 3)
    client.force_login(viewer)
    url = run_url(run, page)

    response = client.get(url, **HX)

    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<div id="live" class="live"') and "<html" not in html
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert "3 of 11 checks done" in html


def test_the_finished_live_part_stops_polling(client, candidate, contributor, viewer):
    run = gate_finished(candidate, contributor)
    client.force_login(viewer)
    for page in ("gate-run", "gate-slices"):
        html = client.get(run_url(run, page), **HX).content.decode()
        assert 'id="live"' in html and "hx-get" not in html and "hx-trigger" not in html
        assert "required check" in html or "Slice regressions" in html
    page_html = client.get(run_url(run)).content.decode()
    assert "htmx.min.js" not in page_html and "http-equiv" not in page_html


def test_the_live_part_is_a_404_for_whom_the_page_is(client, candidate, contributor, outsider):
    run = gate_run_start_for(candidate, contributor)
    promotion = promotion_request_open(
        actor=contributor,
        version=version_register_for_tests(actor=contributor, model=candidate.model, card=CARD),
        target_stage=Stage.STAGING,
        justification="Better recall.",
    )
    client.force_login(outsider)
    for url in (
        run_url(run),
        run_url(run, "gate-slices"),
        reverse("promotions:request", args=[candidate.model.name, promotion.pk]),
    ):
        assert client.get(url).status_code == 404
        assert client.get(url, **HX).status_code == 404


def test_the_request_page_follows_its_gate_and_shows_the_sign_off_when_it_passes(
    client, model, contributor, reviewer
):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD, slices=3)
    promotion = promotion_request_open(
        actor=contributor, version=version, target_stage=Stage.STAGING, justification="Better recall."
    )
    url = reverse("promotions:request", args=[model.name, promotion.pk])
    client.force_login(reviewer)
    _running(promotion.gate_run, 4)

    html = client.get(url, **HX).content.decode()
    assert f'hx-get="{url}" hx-trigger="every 1s"' in html and "<html" not in html
    assert "4 of 11 checks done" in html and "This page follows the gate" in html
    assert len(re.findall(r'data-status="passed"', html)) == 4
    assert 'id="reject-comment" hx-preserve="true"' in html  # what a reviewer types survives the polling
    assert 'value="approve"' not in html

    GateRun.objects.filter(pk=promotion.gate_run_id).update(
        state=GateState.PENDING, lease_expires_at=None, attempts=0
    )
    gate_run_execute(run_id=promotion.gate_run_id)

    html = client.get(url, **HX).content.decode()
    assert "hx-get" not in html and "hx-trigger" not in html
    assert "awaiting sign-off" in html and 'name="decision" value="approve"' in html


def gate_run_start_for(version, actor) -> GateRun:
    return gate_run_start(actor=actor, version=version, target_stage="production")


# --- Query counts ----------------------------------------------------------------------------------------

# The live part runs what its page runs, and no more: session, user, model, permissions, version, run,
# results, its request. The progress is a field of the run: no query of its own.
LIVE_GATE_RUN_QUERIES = 8
# The request's live part while its gate runs: the request page's own selectors (session, user, model,
# permissions, the request, results, sign-offs, card, timeline, the reader's eligibility, production).
LIVE_REQUEST_QUERIES = 11


def test_the_live_parts_queries_do_not_grow_with_slices(
    client, django_assert_max_num_queries, model, contributor, viewer, version
):
    client.force_login(viewer)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    client.defaults.update(HX)

    def build(rows):
        baseline = version_register_for_tests(actor=contributor, model=model, slices=rows)
        version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
        candidate = version_register_for_tests(actor=contributor, model=model, slices=rows)
        version_move(candidate, Stage.STAGING, actor=contributor)
        run = gate_run_start_for(candidate, contributor)
        _running(run, 6)
        return run_url(run)

    counts = assert_queries_do_not_grow(
        django_assert_max_num_queries, client, bound=LIVE_GATE_RUN_QUERIES, build=build
    )
    assert counts[0] == LIVE_GATE_RUN_QUERIES


def test_the_request_live_part_runs_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, model, contributor, reviewer
):
    client.force_login(reviewer)
    client.defaults.update(HX)

    def build(rows):
        version = version_register_for_tests(actor=contributor, model=model, card=CARD, slices=rows)
        promotion = promotion_request_open(
            actor=contributor, version=version, target_stage=Stage.STAGING, justification="Better recall."
        )
        _running(promotion.gate_run, 5)
        return reverse("promotions:request", args=[model.name, promotion.pk])

    counts = assert_queries_do_not_grow(
        django_assert_max_num_queries, client, bound=LIVE_REQUEST_QUERIES, build=build
    )
    assert counts[0] == LIVE_REQUEST_QUERIES
