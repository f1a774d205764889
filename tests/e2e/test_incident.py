"""From the link an alert carries to a completed rollback in a real browser: sign in, then at most two
clicks. The production lookup API then answers the rolled-back-to version. A screenshot of the jump page
is saved in test-results/."""

import pytest
from django.urls import reverse

from tests.api.support import bearer
from tests.e2e.conftest import PASSWORD, RESULTS
from tests.factories import version_move, version_register_for_tests
from tests.incidents.test_rollback import incident_about
from warehouse.registry.models import Stage

pytestmark = pytest.mark.e2e

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "- New merchants in their first week.\n- Assumes the merchant feed is fresh (< 1 h).",
    "owners_contacts": "fraud-ml@example.com",
}


@pytest.fixture
def firing(model, version, contributor, superuser):
    """v1 served, v2 replaced it, and an alert about v2 is firing."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model, card=CARD)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    incident_about(model, superuser)
    return current, version


def test_a_responder_rolls_back_in_two_clicks_from_the_alert_link(
    live_server, client, model, firing, responder, chromium
):
    current, target = firing
    alert_link = live_server.url + reverse("incidents:go", args=[model.name])  # what the alert template holds
    page = chromium.new_page(viewport={"width": 1440, "height": 900})  # a laptop screen
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    page.goto(alert_link)
    page.fill("#id_username", responder.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(alert_link)

    # The essentials are on the first screen, without scrolling.
    for selector in ("[data-testid=production]", "[data-testid=rollback-target]", ".known-failures-box"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["y"] < 900, selector
    assert "Assumes the merchant feed is fresh" in page.content()
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "jump-page.png"))

    page.click(f"text=Roll back to v{target.number}")  # click 1: opens the confirmation, reason prefilled
    assert "Incident #" in page.input_value("#rollback-reason")
    page.click(f"text=Confirm: roll back to v{target.number}")  # click 2
    page.locator(".messages", has_text="Rolled back").wait_for()

    lookup = client.get(reverse("api:production", args=[model.name]), **bearer(responder))
    assert lookup.json()["version"] == target.number
    assert problems == []
