"""A viewer browses from the models list to a version's evidence in a real browser (Debian's chromium)."""

import pytest
from django.urls import reverse

from tests.e2e.conftest import PASSWORD, RESULTS
from tests.factories import version_move, version_register_for_tests
from warehouse.registry.models import Stage

pytestmark = pytest.mark.e2e


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
