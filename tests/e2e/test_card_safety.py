"""A card holding every known script payload, opened in a real browser (Debian's chromium): nothing runs.

The page is opened twice: as served, and with the Content-Security-Policy switched off, so the sanitiser
alone has to hold. Either way no dialog opens, no script error or CSP refusal of script is logged, and the
browser's own parse of the stored HTML (which is where a mutation payload would come alive) holds no tag,
attribute or URL outside the allowlist. A screenshot is saved in test-results/card-payloads.png.
"""

import pytest
from django.urls import reverse

from tests.cards.test_sanitise import JS, PAYLOADS, problems_in
from tests.e2e.conftest import PASSWORD, RESULTS
from warehouse.cards.sections import Section
from warehouse.cards.services import card_revise

pytestmark = pytest.mark.e2e

# The task section is readable Markdown whose tricky parts must show as text; every payload goes in the
# other seven, spread round-robin, so each section's HTML is sanitised with several payloads side by side.
READABLE = f"""Scores card payments for fraud.

A [disarmed link](javascript:{JS}) keeps its words, and [the runbook](https://wiki.example.com/fraud) works.

Attribute lists stay text: {{: onclick={JS} }}

```
<script>{JS}</script>
```
"""
PAYLOAD_SECTIONS = [section.value for section in Section if section != Section.TASK]


def card_sections() -> dict[str, str]:
    sections = {key: [] for key in PAYLOAD_SECTIONS}
    for index, payload in enumerate(PAYLOADS.values()):
        sections[PAYLOAD_SECTIONS[index % len(PAYLOAD_SECTIONS)]].append(payload)
    return {Section.TASK.value: READABLE} | {key: "\n\n".join(parts) for key, parts in sections.items()}


@pytest.fixture
def payload_card(version, contributor):
    return card_revise(actor=contributor, version=version, sections=card_sections(), summary="Every payload")


# What the browser built from each stored section, serialised back (after any mutation), and every link
# as the browser resolved it; plus anything on the whole page that could run script.
READ_PAGE = """() => ({
  sections: [...document.querySelectorAll('.card-section .prose')].map(e => e.innerHTML),
  protocols: [...document.querySelectorAll('.prose a[href], .prose img[src]')].map(
    e => new URL(e.href || e.src, document.baseURI).protocol),
  handlers: [...document.querySelectorAll('*')].flatMap(
    e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)),
  scripts: [...document.scripts].map(s => s.getAttribute('src') || 'inline: ' + s.textContent.slice(0, 60)),
  frames: document.querySelectorAll('iframe, frame, object, embed, base, meta[http-equiv]').length,
  baseURI: document.baseURI,
})"""


def _open(context, live_server, card_path: str, seen: dict[str, list]) -> object:
    """A page on the card, watched: dialogs are recorded (and dismissed), so is every console error."""
    page = context.new_page()
    requests: dict[str, str] = {}
    page.on("request", lambda request: requests.setdefault(request.url, request.resource_type))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen["problems"].append(f"page error: {error}"))
    page.on("popup", lambda popup: seen["problems"].append(f"a window opened: {popup.url}"))

    def console(message):
        if message.type != "error":
            return
        # An image the payloads name that cannot load (`<img src=x>` is a 404 under the card page; an
        # image elsewhere is refused by img-src or aborted below) is not script: allowed, everything
        # else (a refused inline script or handler, a javascript: URL, an exception) is a failure.
        url = (message.location or {}).get("url", "")
        image_failed = message.text.startswith("Failed to load resource") and requests.get(url) == "image"
        image_refused = "the image" in message.text and '"img-src ' in message.text
        if not (image_failed or image_refused):
            seen["problems"].append(f"console error: {message.text} ({url})")

    page.on("console", console)
    page.goto(live_server.url + card_path)
    page.wait_for_load_state("networkidle")
    return page


def test_a_card_full_of_payloads_runs_no_script(live_server, model, version, payload_card, viewer, chromium):
    card_path = reverse("cards:card", args=[model.name, version.number])
    seen: dict[str, list] = {"dialogs": [], "problems": []}

    def only_the_live_server(route):
        # Nothing a payload names is fetched from elsewhere: the test needs no network and leaks nothing.
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            route.abort()

    served = chromium.new_context(viewport={"width": 1360, "height": 1000})
    served.route("**/*", only_the_live_server)
    page = served.new_page()
    page.goto(live_server.url + reverse("home"))
    assert "/accounts/sign-in/" in page.url
    page.fill("#id_username", viewer.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('home')}")
    signed_in = served.storage_state()
    page.close()

    without_csp = chromium.new_context(
        viewport={"width": 1360, "height": 1000}, bypass_csp=True, storage_state=signed_in
    )
    without_csp.route("**/*", only_the_live_server)
    for context in (served, without_csp):
        page = _open(context, live_server, card_path, seen)
        assert page.url == live_server.url + card_path  # no meta refresh, no redirect
        # Give every payload its chance: handlers that need a pointer or focus, and the async ones.
        for element in page.locator(".prose *").all():
            if element.is_visible():
                element.hover(force=True, timeout=2_000)
                element.focus()
        page.wait_for_timeout(500)

        built = page.evaluate(READ_PAGE)
        assert len(built["sections"]) == len(Section), built["sections"]
        for html in built["sections"]:
            assert problems_in(html) == [], html
        assert set(built["protocols"]) <= {"http:", "https:", "mailto:"}, built["protocols"]
        assert built["handlers"] == []
        assert all(src.startswith("/static/") for src in built["scripts"]), built["scripts"]
        assert built["frames"] == 0
        assert built["baseURI"] == live_server.url + card_path

        assert seen["dialogs"] == []
        assert seen["problems"] == []
        if context is served:
            RESULTS.mkdir(exist_ok=True)
            page.screenshot(path=str(RESULTS / "card-payloads.png"), full_page=True)

    # What is meant to read as text does, in the page as a person sees it.
    task = page.locator(f"#{Section.TASK.value} .prose")
    assert task.get_by_text("disarmed link").is_visible()
    assert task.locator("a", has_text="disarmed link").get_attribute("href") is None
    runbook = task.locator("a", has_text="the runbook")
    assert runbook.get_attribute("href") == "https://wiki.example.com/fraud"
    assert runbook.get_attribute("rel") == "noopener noreferrer nofollow"
    assert f"{{: onclick={JS} }}" in task.inner_text()
    assert task.locator("pre code").inner_text().strip() == f"<script>{JS}</script>"

    # The watcher works: a dialog that does open is seen (Playwright's own script is not blocked by CSP).
    page.evaluate("() => setTimeout(() => alert('control'), 0)")
    page.wait_for_timeout(500)
    assert seen["dialogs"] == ["control"]
