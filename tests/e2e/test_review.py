"""A promotion from request to sign-off in a real browser, with a real worker running the gate.

A contributor asks for promotion on the version page, the worker runs the gate, a reviewer signs in, finds
the request in the queue, approves it, and the version shows its new stage. Screenshots of the queue and
the request page are saved in test-results/.
"""

import pytest
from django.urls import reverse

from tests.e2e.conftest import PASSWORD, RESULTS
from tests.factories import version_move, version_register_for_tests
from tests.promotions.test_verdict_pages import CANDIDATE, PRODUCTION
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import Stage

pytestmark = pytest.mark.e2e

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


def _watch(page, problems: list[str]) -> None:
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )


def _sign_in(page, live_server, user, next_path: str) -> None:
    page.goto(live_server.url + next_path)
    assert "/accounts/sign-in/" in page.url
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


@pytest.fixture
def candidate(model, contributor):
    return version_register_for_tests(actor=contributor, model=model, card=CARD, slices=6)


# Data fixtures first: everything is written before the worker and the browser start.
def test_a_reviewer_approves_a_promotion_from_the_queue(
    live_server,
    model,
    candidate,
    contributor,
    reviewer,
    gate_worker,
    chromium,
):
    gate_worker()
    problems: list[str] = []
    RESULTS.mkdir(exist_ok=True)
    version_path = reverse("registry:version", args=[model.name, candidate.number])

    # The contributor asks for Staging from the version page and watches the gate run.
    asking = chromium.new_context(viewport={"width": 1360, "height": 900}).new_page()
    _watch(asking, problems)
    _sign_in(asking, live_server, contributor, version_path)
    asking.fill("#justification", "Recall up on new merchants; ready for shadow traffic.")
    asking.click("text=Request promotion to Staging")
    asking.wait_for_url("**/promotions/*/")
    request_path = asking.url.removeprefix(live_server.url)
    banner = asking.locator("[data-testid=request-state]")
    banner.filter(has_text="awaiting sign-off").wait_for(timeout=60_000)
    assert "All required checks passed" in banner.inner_text()

    # The reviewer signs in, finds it in the queue (oldest first), and approves it.
    reviewing = chromium.new_context(viewport={"width": 1360, "height": 1000}).new_page()
    _watch(reviewing, problems)
    _sign_in(reviewing, live_server, reviewer, reverse("home"))
    assert reviewing.locator("[data-testid=queue-count]").inner_text() == "1"
    reviewing.click("nav.mainnav >> text=Reviews")
    reviewing.wait_for_url(f"**{reverse('promotions:queue')}")
    queue = reviewing.locator("[data-testid=awaiting-me]")
    assert model.name in queue.inner_text() and f"v{candidate.number}" in queue.inner_text()
    reviewing.screenshot(path=str(RESULTS / "reviewer-queue.png"), full_page=True)

    queue.locator(f"a[href='{request_path}']").first.click()
    reviewing.wait_for_url(f"**{request_path}")
    assert "Reviewer's checklist" in reviewing.content() or "Reviewer&#x27;s checklist" in reviewing.content()
    reviewing.screenshot(path=str(RESULTS / "promotion-request.png"), full_page=True)
    reviewing.fill("#comment", "Slices and card read; fine for Staging.")
    reviewing.click("#sign button[value=approve]")
    reviewing.locator("[data-testid=request-state]").filter(has_text="Approved and executed").wait_for()

    reviewing.click(f"text=v{candidate.number}")
    reviewing.goto(live_server.url + version_path)
    assert "Staging" in reviewing.locator("h1 .badge").first.inner_text()
    assert problems == []


# A page's element that is wider than its container (the page itself, a panel, the slice table's wrap),
# or the Verdict column cut off at the right: what a reviewer on a phone would have to scroll to find.
_OVERFLOW = """() => {
  const wide = [];
  const fits = (el) => el.scrollWidth <= el.clientWidth + 1;
  if (!fits(document.documentElement)) wide.push('page ' + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll('main .panel, main .gate-banner')) {
    if (!fits(el)) wide.push((el.id || el.className) + ' ' + el.scrollWidth + '>' + el.clientWidth);
  }
  return wide;
}"""
_AGAINST_VERDICT_SHOWN = """() => {
  const head = [...document.querySelectorAll('#against-production thead th')].pop();
  const wrap = head.closest('.table-wrap');
  return head.getBoundingClientRect().right <= wrap.getBoundingClientRect().right + 1;
}"""
_VERDICT_COLUMN_SHOWN = """() => {
  const head = [...document.querySelectorAll('table.slices thead th')].pop();
  const wrap = head.closest('.table-wrap') || head.closest('table');
  const a = head.getBoundingClientRect(), b = wrap.getBoundingClientRect();
  return a.right <= b.right + 1 && a.left >= b.left - 1 && a.right <= window.innerWidth + 1;
}"""


@pytest.mark.parametrize("width", [1440, 390])
def test_a_reviewer_sees_missing_slices_as_missing_and_unruled_checks_as_neutral(
    live_server, model, contributor, reviewer, chromium, width
):
    draft = version_register_for_tests(actor=contributor, model=model, evaluation=CANDIDATE, card=CARD)
    baseline = version_register_for_tests(actor=contributor, model=model, evaluation=PRODUCTION, card=CARD)
    version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    promotion = promotion_request_open(
        actor=contributor, version=draft, target_stage=Stage.STAGING, justification="Shadow traffic."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    problems: list[str] = []
    RESULTS.mkdir(exist_ok=True)
    request_path = reverse("promotions:request", args=[model.name, promotion.pk])

    page = chromium.new_context(viewport={"width": width, "height": 900}).new_page()
    _watch(page, problems)
    _sign_in(page, live_server, reviewer, request_path)

    summary = page.locator("#slices .slice-verdict")
    assert "0 worse of 1 compared" in summary.inner_text()
    assert "3 missing from the candidate" in summary.inner_text()
    missing = page.locator("#slices .verdict-tag.v-missing_from_candidate")
    assert missing.count() == 3 and missing.first.is_visible()
    assert missing.first.inner_text() == "Missing from the candidate"
    # The candidate against production, figure by figure, on the request itself.
    against = page.locator("#against-production")
    assert against.is_visible()
    assert f"Against production v{baseline.number}" in against.inner_text()
    assert against.locator("tbody tr:not(.group)").count() >= 2
    assert "= same" in against.locator("tbody").inner_text()
    assert page.evaluate(_AGAINST_VERDICT_SHOWN), "the comparison's Verdict column is cut off"
    # A check with no rule: a grey icon and a "No rule" tag, never the green of a pass.
    latency = page.locator("#check-latency")
    assert "status-not_configured" in latency.get_attribute("class")
    assert latency.locator(".icon-not_configured").is_visible()
    assert latency.locator(".tag.no-rule").is_visible()
    fill = latency.locator(".icon-not_configured circle").evaluate("c => getComputedStyle(c).fill")
    assert fill == "none", fill
    assert page.evaluate(_OVERFLOW) == []
    page.screenshot(path=f"/tmp/verdicts-request-{width}.png", full_page=True)
    assert page.evaluate(_VERDICT_COLUMN_SHOWN), "the Verdict column is cut off"

    page.goto(
        live_server.url
        + reverse("promotions:gate-slices", args=[model.name, draft.number, promotion.gate_run_id])
    )
    assert (
        page.locator(".chart-notice")
        .inner_text()
        .startswith("3 slice results of production are missing from the candidate")
    )
    assert page.locator("table.slices .verdict-tag.v-missing_from_candidate").count() == 3
    assert page.evaluate(_VERDICT_COLUMN_SHOWN), "the Verdict column is cut off"
    assert page.evaluate(_OVERFLOW) == []
    page.screenshot(path=f"/tmp/verdicts-slices-{width}.png", full_page=True)
    assert problems == []
