"""From the link an alert carries to a completed rollback in a real browser: sign in, then at most two
clicks. The production lookup API then answers the rolled-back-to version. A screenshot of the jump page
is saved in test-results/. And, on a laptop and on a 390 px phone, the responder compares production with
the rollback target, rolls back, and the incident reads mitigated, without the page scrolling sideways
(screenshots in /tmp/incident-<width>-*.png)."""

import pytest
from django.urls import reverse

from tests.api.support import bearer
from tests.e2e.conftest import PASSWORD, RESULTS
from tests.factories import version_move, version_register_for_tests
from tests.incidents.test_rollback import incident_about
from warehouse.incidents.models import Incident
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
    current = version_register_for_tests(
        actor=contributor,
        model=model,
        card=CARD,
        evaluation={
            "dataset": "payments-holdout",
            "metrics": [{"name": "auc", "value": 0.93}, {"name": "log_loss", "value": 0.27}],
            "slices": [],
        },
        profile={"latency_p50_ms": 6, "latency_p95_ms": 31, "latency_p99_ms": 48, "currency": "USD"},
    )
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


# What sticks out past the right edge, to say why a page scrolls sideways.
_WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 8).map(e => e.tagName + '.' + e.className)"""


def assert_no_page_scroll(page, where: str) -> None:
    """Nothing wider than the screen: tables may scroll inside their own container, the page may not."""
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, f"{where} scrolls sideways: {page.evaluate(_WIDER)}"


@pytest.mark.parametrize("width", [1440, 390])
def test_a_responder_compares_rolls_back_and_the_incident_reads_mitigated(
    live_server, model, firing, responder, chromium, width
):
    current, target = firing
    incident = Incident.objects.get(model=model)
    go = live_server.url + reverse("incidents:go", args=[model.name])
    page = chromium.new_page(viewport={"width": width, "height": 900 if width > 1000 else 844})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    page.goto(live_server.url + reverse("home"))
    page.fill("#id_username", responder.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.locator("[data-testid=open-incidents]", has_text="1 firing incident").wait_for()
    assert_no_page_scroll(page, "home")
    page.screenshot(path=f"/tmp/incident-{width}-home.png", full_page=True)

    page.goto(go)  # the link the alert carries
    comparison = page.locator("[data-testid=comparison]")
    comparison.wait_for()
    for name, verdict in (("auc", "v2 better"), ("log_loss", "v1 better"), ("Latency p95", "v1 better")):
        assert verdict in comparison.locator("tr", has_text=name).first.inner_text(), name
    assert_no_page_scroll(page, "/go")
    page.screenshot(path=f"/tmp/incident-{width}-go.png", full_page=True)

    page.click(f"text=Roll back to v{target.number}")
    page.click(f"text=Confirm: roll back to v{target.number}")
    page.locator(".messages", has_text="1 firing incident marked mitigated").wait_for()

    page.goto(live_server.url + reverse("incidents:incident", args=[incident.pk]))
    state = page.locator("[data-testid=incident-state]")
    assert (
        state.inner_text().startswith(f"Mitigated by rollback v{current.number} → v{target.number} at ")
        and f"by {responder.username}" in state.inner_text()
    )
    assert page.locator(".badge.incident-mitigated").first.inner_text() == "Mitigated"
    assert page.locator(".rollback-confirm").count() == 0  # no rollback offered from a mitigated incident
    assert_no_page_scroll(page, "incident page")
    page.screenshot(path=f"/tmp/incident-{width}-incident.png", full_page=True)
    assert problems == []
