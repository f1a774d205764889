"""The promotion pages' view models: built from what the selectors read, no query of their own."""

from django.http import QueryDict

from warehouse.promotions.gates.selectors import slice_regression_view
from warehouse.promotions.models import CheckResult
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.presentation.checks import check_numbers_of
from warehouse.promotions.presentation.slices import delta_chart, slice_page


def row(slice_key: str, delta, *, verdict="within_tolerance", metric="auc", allowed=0.02, **extra) -> dict:
    return {
        "slice": slice_key,
        "metric": metric,
        "value": 0.9,
        "baseline": None if delta is None else 0.9 - delta,
        "delta": delta,
        "allowed": allowed,
        "samples": 500,
        "verdict": verdict,
        "direction": "higher",
        **extra,
    }


def test_the_delta_chart_draws_a_bar_per_compared_slice_and_a_tick_at_the_allowed_worsening():
    chart = delta_chart([row("region=EU", -0.05, verdict="worse"), row("region=US", 0.01, verdict="better")])
    [panel] = chart.panels
    assert [r.css for r in panel.rows] == ["v-worse", "v-better"]
    assert panel.rows[0].title == (
        "region=EU: 0.9 vs 0.95 in production (−0.05), 500 samples: Worse; allowed worsening 0.02"
    )
    shapes = [type(mark).__name__ for mark in panel.rows[0].marks]
    assert shapes == ["Text", "Bar", "Line", "Text"]
    assert [note.text for note in panel.notes] == ["↑ higher is better", "2 slices drawn"]
    assert [mark.text for mark in panel.marks if hasattr(mark, "text")] == ["← worse", "better →", "delta"]
    assert chart.legend and not panel.caption


def test_the_delta_chart_says_what_it_did_not_draw():
    rows = [row(f"region=r{i}", 0.001 * i) for i in range(3)] + [
        row("region=new", None, verdict="new_in_candidate"),
        row("region=gone", None, verdict="missing_from_candidate", value=None),
    ]
    chart = delta_chart(rows, max_rows=2)
    [panel] = chart.panels
    assert len(panel.rows) == 2
    assert panel.caption == (
        "Not drawn: 1 more compared slice (the chart shows the first 2 in the gate's order, worse first); "
        "1 missing from the candidate (no candidate value); 1 new in the candidate (no production value). "
        "All are in the table."
    )
    assert chart.notice.text.startswith("1 slice result of production is missing from the candidate")
    assert chart.notice.css == "missing-text"


def test_a_delta_chart_with_nothing_compared_has_no_panel_and_says_so():
    chart = delta_chart([row("region=new", None, verdict="new_in_candidate")])
    assert chart.panels == [] and chart.legend == [] and "nothing to draw" in chart.empty


def test_sort_headers_and_verdict_filters_keep_the_rest_of_the_query():
    result = CheckResult(check_name=Check.SLICES, numbers={"rows": [row("a", 0.1), row("b", -0.1)]})
    view = slice_regression_view(result=result, sort="delta", verdict="within_tolerance")
    page = slice_page(view=view, query=QueryDict("sort=delta&verdict=within_tolerance"))
    headers = {header.label: header for header in page.headers}
    assert headers["Delta"].active and headers["Delta"].aria_sort == "ascending"
    assert headers["Delta"].href == "?sort=-delta&verdict=within_tolerance#table"
    # Counts sort the largest first on the first click.
    assert (
        headers["Samples"].href == "?sort=-samples&verdict=within_tolerance#table"
        and headers["Samples"].arrow == "↕"
    )
    assert page.all_href == "?sort=delta#table"
    within = next(f for f in page.filters if f.verdict == "within_tolerance")
    assert within.current and within.count == 2 and within.label == "Within tolerance"


def test_numbers_of_another_shape_are_shown_as_they_are():
    result = CheckResult(check_name=Check.LATENCY, numbers={"p95_ms": "fast", "budget_ms": 100})
    numbers = check_numbers_of(result)
    assert [(fact.label, fact.value) for fact in numbers.facts] == [("P95 ms", "fast"), ("Budget ms", "100")]


def test_a_budget_reads_as_a_share_with_a_meter():
    result = CheckResult(check_name=Check.LATENCY, numbers={"p95_ms": 45.0, "budget_ms": 50.0})
    numbers = check_numbers_of(result)
    assert ("Of the budget", "90%") in [(fact.label, fact.value) for fact in numbers.facts]
    assert numbers.meter == {"value": 45.0, "max": 50.0, "high": 45.0, "optimum": 0}
