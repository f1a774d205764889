"""A contributor registers by pasting the API's JSON, then starts the next version from that one, on a wide
screen and on a phone, without the page scrolling sideways. Screenshots are saved in test-results/."""

import json

import pytest
from django.urls import reverse

from tests.e2e.conftest import PASSWORD, RESULTS
from tests.factories import evidence_payload
from warehouse.registry.models import ModelVersion

pytestmark = pytest.mark.e2e
REGISTER = reverse("cards:register")
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def _screenshot(page, name: str, width: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"register-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_contributor_pastes_json_then_starts_the_next_version_from_it(
    live_server, model, contributor, chromium, width
):
    page = chromium.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    # The page that shows a refused registration is answered 400, as it should be; the console says so.
    refused = "the server responded with a status of 400"
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(f"{live_server.url}{REGISTER}?model={model.name}")
    page.fill("#id_username", contributor.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{REGISTER}*")

    assert page.locator("#required-legend").is_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    _screenshot(page, "form", width)

    # Pasted with a mistake: the API's answer, field by field, and nothing registered.
    payload = evidence_payload()
    wrong = json.loads(json.dumps(payload))
    wrong["artifacts"][1]["sha256"] = "abc"
    page.click("#json > summary")
    page.fill("#id_json-model", model.name)
    page.fill("#id_json-document", json.dumps(wrong, indent=2))
    page.click("text=Register the JSON in Draft")
    page.wait_for_load_state()
    errors = page.locator("#id_json-document_error")
    assert errors.is_visible() and "artifacts[1].sha256: Must be 64 hexadecimal" in errors.inner_text()
    assert not ModelVersion.objects.filter(model=model, number=2).exists()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    _screenshot(page, "json-errors", width)
    page.locator("#json").screenshot(path=str(RESULTS / f"register-json-panel-{width}.png"))

    page.fill("#id_json-document", json.dumps(payload, indent=2))
    page.click("text=Register the JSON in Draft")
    page.wait_for_url(f"**{reverse('registry:version', args=[model.name, 2])}")
    assert "Registered fraud-scorer/v2 in Draft." in page.content()

    # The next version starts from this one's evidence.
    page.goto(f"{live_server.url}{REGISTER}?model={model.name}")
    assert page.input_value("#id_from") == "fraud-scorer/2"
    page.click("text=Start from it")
    page.wait_for_url("**from=fraud-scorer%2F2*")
    assert page.locator("[data-testid=started-from]").is_visible()
    started = json.loads(page.input_value("#id_json-document"))
    assert started["artifacts"][0]["uri"] == "s3://models/fraud/config.json"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    _screenshot(page, "started-from", width)
    started["description"] = "Same evidence, a new card to write."
    page.fill("#id_json-document", json.dumps(started, indent=2))
    page.click("text=Register the JSON in Draft")
    page.wait_for_url(f"**{reverse('registry:version', args=[model.name, 3])}")
    assert [problem for problem in problems if refused not in problem] == []
    assert sum(refused in problem for problem in problems) == 1
