"""The demo's fraud-scorer card in a real browser: the product lead's page reads right, on screen and in
print, and is reached from the model page, whose navigation offers them only what they may use; two
versions compare base → head with word marks, on a laptop and on a 390 px phone without scrolling sideways.
Screenshots are saved in test-results/ and /tmp/cards-*.png."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.e2e.conftest import RESULTS
from tests.e2e.test_incident import assert_no_page_scroll
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


def test_the_product_lead_reaches_the_card_reads_who_and_what_and_compares(
    live_server, demo, chromium, subtests
):
    # On a laptop and on a phone, one after the other on the same seeded demo (a seed is seconds); each
    # width is reported on its own.
    production = ModelVersion.objects.get(model__name="fraud-scorer", stage=Stage.PRODUCTION)
    for width in (1440, 390):
        with subtests.test(width=width):
            _product_lead_reads_and_compares(live_server, chromium, production, width)


def _product_lead_reads_and_compares(live_server, chromium, production, width):
    page = chromium.new_page(viewport={"width": width, "height": 900 if width > 1000 else 844})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    model_path = reverse("registry:model", args=["fraud-scorer"])
    page.goto(live_server.url + model_path)
    page.fill("#id_username", "viewer")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{model_path}")
    # The navigation offers the product lead nothing they would be refused: no registering, no webhooks.
    assert_nav(page, shown=["Models", "Reviews", "Audit trail", "API tokens"], hidden=NOT_FOR_READERS)
    assert_no_page_scroll(page, "the model page")
    page.screenshot(path=f"/tmp/cards-{width}-model.png", full_page=True)
    page.locator("[data-testid=model-card]").scroll_into_view_if_needed()
    page.screenshot(path=f"/tmp/cards-{width}-model-screen.png")

    page.click(f"text=Read the model card of v{production.number}")
    page.wait_for_url(f"**{reverse('cards:card', args=['fraud-scorer', production.number])}")
    users, decision = page.locator("#intended_users"), page.locator("#decision_influenced")
    assert users.locator("h2").inner_text() == "Intended users" and "fraud operations" in users.inner_text()
    assert (
        decision.locator("h2").inner_text() == "Decision influenced" and "declined" in decision.inner_text()
    )
    assert users.is_visible() and decision.is_visible()
    task_top = page.locator("#task").bounding_box()["y"]
    assert task_top < users.bounding_box()["y"] < decision.bounding_box()["y"]
    assert_no_page_scroll(page, "the card")
    page.screenshot(path=f"/tmp/cards-{width}-card.png", full_page=True)
    users.scroll_into_view_if_needed()
    page.screenshot(path=f"/tmp/cards-{width}-card-screen.png")

    page.click("text=Compare with the version before")
    page.wait_for_url("**/models/fraud-scorer/compare/**")
    assert page.locator("#base").input_value() == str(production.number - 1)
    assert page.locator("#head").input_value() == str(production.number)
    changed = page.locator(".diff-section:not(.unchanged)")
    assert changed.count() >= 1
    inserted, deleted = (
        changed.first.locator(".diff-side.head ins"),
        changed.first.locator(".diff-side.base del"),
    )
    assert inserted.count() >= 1 and deleted.count() >= 1
    assert inserted.first.is_visible()
    # Marks are coloured, not only underlined: a reader sees the words that changed.
    assert inserted.first.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)",)
    assert page.locator("[data-testid=compare-metrics] tbody tr").count() >= 3
    assert page.locator("[data-testid=compare-slices] tbody tr").count() >= 10
    assert "Latency p95" in page.locator("[data-testid=compare-profile]").inner_text()
    assert_no_page_scroll(page, "the comparison")
    page.screenshot(path=f"/tmp/cards-{width}-compare.png", full_page=True)
    page.screenshot(path=f"/tmp/cards-{width}-compare-screen.png")
    page.locator("#slices").scroll_into_view_if_needed()
    page.screenshot(path=f"/tmp/cards-{width}-compare-slices.png")
    changed.first.screenshot(path=f"/tmp/cards-{width}-compare-section.png")

    # Picking the pair the other way round still reads base → head.
    page.select_option("#base", str(production.number))
    page.select_option("#head", str(production.number - 2))
    page.locator(".compare-picker button").click()
    page.wait_for_url(f"**?base={production.number - 2}&head={production.number}")

    # The version page leads with its card: a panel with its completeness and the way in.
    page.goto(live_server.url + reverse("registry:version", args=["fraud-scorer", production.number]))
    panel = page.locator("[data-testid=card-panel]")
    assert panel.is_visible() and "sections written" in panel.inner_text()
    assert panel.locator("a.btn.primary", has_text="Read the model card").is_visible()
    assert_no_page_scroll(page, "the version page")
    page.screenshot(path=f"/tmp/cards-{width}-version-screen.png")
    assert problems == []

    # A contributor, at the same width, is offered registration, and still not the webhooks of others.
    contributing = chromium.new_page(viewport=page.viewport_size)
    contributing.goto(live_server.url + model_path)
    contributing.fill("#id_username", "contributor")
    contributing.fill("#id_password", DEMO_PASSWORD)
    contributing.click("button[type=submit]")
    contributing.wait_for_url(f"**{model_path}")
    assert_nav(contributing, shown=["Register a version", "API tokens"], hidden=["Webhooks", "Admin"])
    contributing.locator("nav.mainnav").screenshot(path=f"/tmp/nav-{width}-contributor.png")
    page.locator("nav.mainnav").screenshot(path=f"/tmp/nav-{width}-product-lead.png")
    contributing.click("nav.mainnav >> text=Register a version")
    contributing.wait_for_url(f"**{reverse('cards:register')}")
    assert contributing.locator("h1").is_visible()


NOT_FOR_READERS = ["Register a version", "Webhooks", "Admin"]


def assert_nav(page, *, shown: list[str], hidden: list[str]) -> None:
    nav = page.locator("nav.mainnav")
    for entry in shown:
        assert nav.get_by_role("link", name=entry, exact=True).is_visible(), f"{entry} is not offered"
    for entry in hidden:
        assert nav.get_by_role("link", name=entry, exact=True).count() == 0, f"{entry} is offered"
