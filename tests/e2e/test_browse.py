"""A viewer browses from the models list to a version's evidence in a real browser (Debian's chromium).

The browser is never downloaded: it is /usr/bin/chromium or nothing. Without it the test skips on a
laptop and fails in CI, where a missing browser must not pass silently.
"""

import os
from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from warehouse.registry.models import Stage

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def allow_database_calls_beside_playwright(monkeypatch):
    """Playwright's sync API runs an event loop in this thread, and Django refuses database calls from a
    thread with a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set. It is set in os.environ for these
    tests only: set at import, it would leak into every other test and subprocess of the run (and fail
    `manage.py check --deploy`, which rightly refuses it)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _unavailable(message: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} CI must run the browser tests.")
    pytest.skip(message)


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium); no browser is downloaded.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("The playwright package is not installed (pip install -e '.[test]').")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # Code run while Playwright drives the loop gets its own database connections (another
            # context); left open they would keep the test database from being dropped.
            connections.close_all()


@pytest.fixture
def candidate(model, version, contributor):
    """fraud-scorer v1 in production, and v2, a draft with six slices, to compare with it."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    return version_register_for_tests(actor=contributor, model=model, slices=6)


# The data fixtures come before `chromium`: everything is written before the browser starts.
def test_a_viewer_browses_to_the_evidence_of_a_version(live_server, model, candidate, viewer, chromium):
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"HTTP {response.status}: {response.url}") if response.status >= 400 else None
        ),
    )

    page.goto(live_server.url + reverse("registry:models"))
    assert "/accounts/sign-in/" in page.url
    page.fill("#id_username", viewer.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('registry:models')}")
    assert page.locator("h1").inner_text() == "Models"

    page.click(f"table.data >> text={model.name}")
    page.wait_for_url(f"**{reverse('registry:model', args=[model.name])}")
    flow = page.locator("ol.flow")
    assert flow.is_visible()
    assert flow.locator(".col-production").inner_text().count("v1") == 1

    page.click(f"ol.flow .col-draft >> text=v{candidate.number}")
    page.wait_for_url(f"**{reverse('registry:version', args=[model.name, candidate.number])}")
    assert candidate.identifier in page.locator("h1").inner_text()

    chart = page.locator("#slices svg.chart").first
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    assert chart.bounding_box()["width"] > 300
    assert page.locator("#slices svg.chart circle.dot").count() == 6
    artifacts = page.locator("#artifacts table")
    assert artifacts.is_visible()
    assert "ab" * 32 in artifacts.inner_text() and "s3://models/fraud/model.onnx" in artifacts.inner_text()
    # The stylesheet loaded: a stage badge is coloured, not default black on white.
    badge_colour = page.locator("h1 .badge").evaluate("element => getComputedStyle(element).backgroundColor")
    assert badge_colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")

    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "version-page.png"), full_page=True)
    assert problems == []
