"""A promotion from request to sign-off in a real browser, with a real worker running the gate.

A contributor asks for promotion on the version page, the worker runs the gate, a reviewer signs in, finds
the request in the queue, approves it, and the version shows its new stage. Screenshots of the queue and
the request page are saved in test-results/.
"""

import pytest
from django.urls import reverse

from tests.e2e.conftest import PASSWORD, RESULTS
from tests.factories import version_register_for_tests

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
