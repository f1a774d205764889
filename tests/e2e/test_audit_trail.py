"""An auditor finds every refusal on the audit trail, on a laptop and on a phone, and reads one event's data
in full, without the page scrolling sideways (Debian's chromium)."""

import pytest
from django.urls import reverse

from tests.e2e.conftest import PASSWORD, RESULTS
from warehouse.audit.services import audit_record

pytestmark = pytest.mark.e2e

# Every element of the events panel that sticks out of its box, and by how many pixels; [] when none does.
OVERFLOWING = """() => {
  const panel = document.querySelector('section[aria-labelledby="events-title"]');
  const wrap = panel.querySelector('.table-wrap');
  const out = [];
  const limit = wrap.getBoundingClientRect().right + 1;
  if (wrap.getBoundingClientRect().right > panel.getBoundingClientRect().right + 1) out.push('table-wrap');
  for (const element of wrap.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    const over = box.right - limit;
    if (box.width && over > 0) out.push(`${element.tagName}.${element.className} +${over}`);
  }
  const sideways = wrap.scrollWidth - wrap.clientWidth;
  if (sideways > 1) out.push(`table-wrap scrolls by ${sideways}`);
  return out;
}"""


@pytest.fixture
def refusals(model, contributor, viewer):
    """A trail with refusals among other events, one with long data."""
    for number in range(3):
        audit_record(
            actor=contributor, action="version.registered", model_name=model.name, data={"number": number}
        )
    audit_record(
        actor=contributor,
        action="promotion.refused",
        target_label=f"{model.name}/v1",
        model_name=model.name,
        data={
            "reason": "The gate run failed: latency p95 412 ms is over the 250 ms budget. " * 4,
            "checks": {"latency_budget": "failed", "slice_regressions": "passed", "card_sections": "passed"},
            "request": "https://warehouse.example/models/fraud-scorer/versions/1/requests/12/" + "x" * 80,
        },
    )
    audit_record(
        actor=None,
        action="api_token.refused",
        model_name=model.name,
        data={"address": "203.0.113.9", "door": "api", "path": "/api/v1/models/"},
    )
    audit_record(actor=contributor, action="signin.failed", model_name=model.name, data={"username": "x"})
    return model


def _sign_in(page, live_server, user, next_url):
    page.goto(live_server.url + next_url)
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('audit-trail')}*")


@pytest.mark.parametrize("width", [1440, 390])
def test_an_auditor_finds_the_refusals_and_reads_one_in_full(live_server, refusals, viewer, chromium, width):
    page = chromium.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    _sign_in(page, live_server, viewer, reverse("audit-trail"))

    page.fill("#id_action", "*.refused")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(lambda url: "refused" in url)
    rows = page.locator("table.audit-events tbody tr")
    assert rows.count() == 2
    assert sorted(page.locator("table.audit-events .action").all_inner_texts()) == [
        "api_token.refused",
        "promotion.refused",
    ]
    assert "2 events matching" in page.locator("#events-title").inner_text()
    export = page.locator("a[download]", has_text="CSV")
    assert export.get_attribute("href").endswith("/audit/export.csv?action=%2A.refused")

    # Until opened, an event is one line on a laptop, and one line per field on a phone.
    closed_height = rows.first.bounding_box()["height"]
    assert closed_height < (260 if width == 390 else 50), closed_height
    cell = rows.filter(has_text="promotion.refused").locator("details")
    assert not cell.locator("pre").is_visible()
    cell.locator("summary").click()
    pre = cell.locator("pre")
    assert pre.is_visible() and '"latency_budget": "failed"' in pre.inner_text()

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    overflowing = page.evaluate(OVERFLOWING)
    assert overflowing == [], "; ".join(overflowing)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"audit-trail-{width}.png"), full_page=True)
    assert problems == []
