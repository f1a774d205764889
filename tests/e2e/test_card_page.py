"""The demo's fraud-scorer card in a real browser: the product lead's page reads right, on screen and in
print. Screenshots are saved in test-results/."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.e2e.conftest import RESULTS
from warehouse.registry.models import ModelVersion, Stage

pytestmark = pytest.mark.e2e
DEMO_PASSWORD = "warehouse-demo"


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEBUG = True  # seed_demo refuses to publish its passwords otherwise
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False


def test_the_demo_fraud_scorer_card_reads_right(live_server, demo, chromium):
    production = ModelVersion.objects.select_related("model").get(
        model__name="fraud-scorer", stage=Stage.PRODUCTION
    )
    card_path = reverse("cards:card", args=["fraud-scorer", production.number])
    page = chromium.new_page(viewport={"width": 1360, "height": 1000})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    page.goto(live_server.url + card_path)
    page.fill("#id_username", "viewer")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{card_path}")

    assert "fraud-scorer" in page.locator("h1").inner_text()
    toc = page.locator(".card-toc")
    assert toc.is_visible() and "Known failures" in toc.inner_text()
    known = page.locator("#known_failures")
    assert known.is_visible()
    # Known failures stand out: their panel is tinted, not the page's white.
    assert known.evaluate("e => getComputedStyle(e).backgroundColor") not in (
        "rgba(0, 0, 0, 0)",
        "rgb(255, 255, 255)",
    )
    assert page.locator("#at-a-glance .figure").count() >= 3
    weak_rows = page.locator("#slices tr.weak")
    assert weak_rows.count() >= 3
    assert page.locator("[data-testid=completeness]").is_visible()
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "card-page.png"), full_page=True)

    # Print: the chrome goes, the card stays.
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    assert not page.locator(".card-toc").is_visible()
    assert known.is_visible()
    page.screenshot(path=str(RESULTS / "card-page-print.png"), full_page=True)
    page.pdf(path=str(RESULTS / "card-page.pdf"))  # the clean PDF a product lead prints from the browser
    assert problems == []


def test_the_editor_previews_as_one_types_and_saves_a_revision(
    live_server, model, version, contributor, chromium
):
    from tests.e2e.conftest import PASSWORD

    edit_path = reverse("cards:card-edit", args=[model.name, version.number])
    page = chromium.new_page(viewport={"width": 1360, "height": 1000})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.goto(live_server.url + edit_path)
    page.fill("#id_username", contributor.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{edit_path}")

    page.fill("#id_task", "Scores **card payments** <script>alert(1)</script><b onmouseover=alert(1)>!</b>")
    preview = page.locator("[data-preview-for=task]")
    preview.locator("strong", has_text="card payments").wait_for()
    assert "<script" not in preview.inner_html() and "onmouseover" not in preview.inner_html()
    page.fill("#id_summary", "Task written")
    page.click("text=Save a new revision")
    page.wait_for_url(f"**{reverse('cards:card', args=[model.name, version.number])}")
    assert "card payments" in page.locator("#task").inner_text()
    assert problems == []
