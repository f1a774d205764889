"""A reviewer watches a gate run on the request page, in a real browser, with a real worker: the checks appear
one by one as the worker finishes them, then the passed report and the sign-off form, and the page never
navigates (htmx swaps its live part in place, under the strict CSP, with nothing refused in the console).

The worker waits GATE_CHECK_PAUSE_SECONDS after each check, a setting for tests only, so that the page's
one-second polling can see each step.
"""

import time

import pytest
from django.urls import reverse

from tests.e2e.conftest import RESULTS
from tests.e2e.test_review import _OVERFLOW, _sign_in, _watch
from tests.factories import version_register_for_tests
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import Stage

pytestmark = pytest.mark.e2e

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}
PAUSE_SECONDS = 1.2  # longer than the page's polling interval (1 s): every step is seen
_LIVE_STATE = """() => {
  const rows = [...document.querySelectorAll('[data-testid=live-checks] li')];
  return {
    marker: window.__marker,
    live: rows.length > 0,
    statuses: rows.map(li => [li.id.replace('check-', ''), li.dataset.status]),
    banner: document.querySelector('[data-testid=request-state]').innerText,
  };
}"""
_UNFINISHED = ("running", "waiting")


WIDTHS = (1440, 390)  # a laptop and a phone, watching the same gate side by side


def _open_watching(chromium, live_server, reviewer, request_path, width, problems):
    page = chromium.new_context(viewport={"width": width, "height": 900}).new_page()
    _watch(page, problems)
    _sign_in(page, live_server, reviewer, request_path)
    navigations = []
    page.on(
        "framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None
    )
    page.evaluate("() => { window.__marker = 1; }")
    return page, navigations


def test_the_request_page_shows_each_check_as_it_finishes_without_reloading(
    live_server, model, contributor, reviewer, gate_worker, chromium
):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD, slices=4)
    promotion = promotion_request_open(
        actor=contributor, version=version, target_stage=Stage.STAGING, justification="Shadow traffic."
    )
    request_path = reverse("promotions:request", args=[model.name, promotion.pk])
    problems: list[str] = []
    RESULTS.mkdir(exist_ok=True)

    # One gate, watched at both widths at once: each page must see it step by step on its own.
    pages = {
        width: _open_watching(chromium, live_server, reviewer, request_path, width, problems)
        for width in WIDTHS
    }
    page = pages[WIDTHS[0]][0]
    # htmx is served from static/ under the strict CSP, configured by its meta so that it adds no style
    # element and evaluates nothing (a refusal would be a console error, which fails the test below).
    csp = page.request.get(live_server.url + request_path).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    for page, _ in pages.values():
        config = page.evaluate(
            "() => [htmx.version, htmx.config.includeIndicatorStyles, htmx.config.allowEval]"
        )
        assert config[0].startswith("2.") and config[1:] == [False, False], config
        assert "The gate is checking" in page.locator("[data-testid=request-state]").inner_text()
        assert "0 of 11 checks done" in page.locator("[data-testid=checks-done]").inner_text()
        assert page.locator("#sign button[value=approve]").count() == 0

    # The worker starts only now: the pages are open on a queued gate, and watch it run.
    gate_worker(GATE_CHECK_PAUSE_SECONDS=PAUSE_SECONDS)
    seen: dict[int, list[tuple[str, ...]]] = {width: [] for width in WIDTHS}
    watching = set(WIDTHS)
    deadline = time.monotonic() + 90
    while watching:
        for width in sorted(watching):
            page = pages[width][0]
            state = page.evaluate(_LIVE_STATE)
            assert state["marker"] == 1, f"the page at {width} px was reloaded"
            if not state["live"]:
                watching.discard(width)  # the gate finished: the live list gave way to the results
                continue
            done = tuple(name for name, status in state["statuses"] if status not in _UNFINISHED)
            if not seen[width] or seen[width][-1] != done:
                seen[width].append(done)
                if len(done) == 5:
                    page.screenshot(path=str(RESULTS / f"gate-progress-{width}.png"), full_page=True)
                    assert page.evaluate(_OVERFLOW) == [], width
        assert time.monotonic() < deadline, f"the gate did not finish; saw {seen}"
        pages[WIDTHS[0]][0].wait_for_timeout(150)

    for width in WIDTHS:
        page, navigations = pages[width]
        # Each step added checks in the worker's order, and most steps were seen one check at a time.
        for done in seen[width]:
            assert done == tuple(Check.ALL[: len(done)]), (width, seen[width])
        counts = [len(done) for done in seen[width]]
        assert counts == sorted(counts) and len(set(counts)) == len(counts), (width, counts)
        assert len([n for n in counts if 0 < n < len(Check.ALL)]) >= 6, (width, counts)

        # The finished state, in place: the passed report and the reviewer's sign-off form.
        banner = page.locator("[data-testid=request-state]")
        banner.filter(has_text="awaiting sign-off").wait_for(timeout=10_000)
        assert "All required checks passed" in banner.inner_text()
        assert page.locator("#checks .badge").first.inner_text().strip() == "Passed"
        assert page.locator("#checks li.check").count() == len(Check.ALL)
        assert page.locator("#sign button[value=approve]").is_visible()
        assert page.locator("[hx-trigger]").count() == 0  # polling stopped
        assert page.evaluate("() => window.__marker") == 1
        assert navigations == [], (width, navigations)
        assert page.evaluate(_OVERFLOW) == [], width
        page.screenshot(path=str(RESULTS / f"gate-finished-{width}.png"), full_page=True)

    # The form that appeared works like any other: the approval, from the phone, moves the version.
    page = pages[WIDTHS[-1]][0]
    page.fill("#comment", "Watched the gate; fine for Staging.")
    page.click("#sign button[value=approve]")
    page.locator("[data-testid=request-state]").filter(has_text="Approved and executed").wait_for()
    assert problems == []
