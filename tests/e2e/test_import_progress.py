"""A contributor watches a large model's evidence being imported on the version page, in a real browser, with
a real worker and a real MLflow tracking server that answers slowly: the panel says what is being read, the
progress bar fills, then the page says the evidence is imported, shows the digests Warehouse computed, and
never navigates (htmx swaps the panel in place under the strict CSP).

The server is slowed for real: paused (SIGSTOP) most of each second while the worker downloads, as an
overloaded tracking server would be.
"""

import threading
import time

import pytest
from django.urls import reverse

from tests.e2e.conftest import RESULTS
from tests.e2e.test_review import _OVERFLOW, _sign_in, _watch
from tests.tracking.mlflow_runs import log_tracked_run
from warehouse.tracking.imports import version_register_from_run
from warehouse.tracking.models import ImportState, RunImport, TrackingServer

pytestmark = pytest.mark.e2e

MODEL_BYTES = 160 * 1024 * 1024
_PANEL = """() => {
  const panel = document.querySelector('[data-testid=evidence-import]');
  const bar = panel && panel.querySelector('progress');
  return {
    marker: window.__marker,
    state: panel ? panel.dataset.state : null,
    title: panel ? panel.querySelector('h2').innerText : '',
    value: bar ? Number(bar.value) : null,
  };
}"""


def _throttle(server, stop: threading.Event) -> None:
    """Pause the server for 0.8 s of every 0.85 until told to stop; leave it running. Open for 0.2 s a
    second, a fast machine moved half the file in one opening, and a page could see only two amounts."""
    while not stop.is_set():
        server.pause()
        time.sleep(0.8)
        server.resume()
        time.sleep(0.05)


WIDTHS = (1440, 390)  # a laptop and a phone, following the same import side by side


def test_the_version_page_follows_a_large_import_live(
    live_server,
    tracking_server,
    model,
    contributor,
    gate_worker,
    chromium,
):
    TrackingServer.objects.create(
        name="mlflow-test", url=tracking_server.url, credential_env="UNSET", created_at="2026-12-01T00:00:00Z"
    )
    run = log_tracked_run(tracking_server, big_file_bytes=MODEL_BYTES)
    version = version_register_from_run(
        actor=contributor, model=model, server_name="mlflow-test", run_id=run.run_id, source=run.model_uri
    )
    path = reverse("registry:version", args=[model.name, version.number])
    problems: list[str] = []
    RESULTS.mkdir(exist_ok=True)
    # One import, followed at both widths at once: each page must see it move on its own.
    pages = {}
    for width in WIDTHS:
        page = pages[width] = chromium.new_context(viewport={"width": width, "height": 900}).new_page()
        _watch(page, problems)
        _sign_in(page, live_server, contributor, path)
        page.evaluate("() => { window.__marker = 1; }")
        assert page.evaluate(_PANEL)["title"] == "Import queued"
        # Nothing to gate yet: the actions that need the evidence say so instead of failing when pressed.
        assert "Waits for the evidence" in page.locator("#request-pending").inner_text()
        assert page.locator("#gate button[disabled]").count() == 1

    stop = threading.Event()
    throttler = threading.Thread(target=_throttle, args=(tracking_server, stop), daemon=True)
    gate_worker()
    throttler.start()
    seen_values = {width: [] for width in WIDTHS}
    states = {width: [] for width in WIDTHS}
    shot = set()
    following = set(WIDTHS)
    try:
        deadline = time.monotonic() + 120
        while following and time.monotonic() < deadline:
            for width in sorted(following):
                page = pages[width]
                panel = page.evaluate(_PANEL)
                assert panel["marker"] == 1, f"the page at {width} px was reloaded"
                states[width].append(panel["state"])
                if panel["value"] is not None:
                    seen_values[width].append(panel["value"])
                    if width not in shot and panel["value"] > 0:
                        page.screenshot(path=str(RESULTS / f"import-progress-{width}.png"), full_page=False)
                        shot.add(width)
                if panel["state"] == ImportState.IMPORTED:
                    following.discard(width)
            time.sleep(0.25)
    finally:
        stop.set()
        throttler.join(timeout=5)
        tracking_server.resume()

    assert RunImport.objects.get(version=version).state == ImportState.IMPORTED
    weights = run.model_files["weights.bin"][0]
    for width, page in pages.items():
        assert states[width][-1] == "imported", (width, states[width])
        assert "importing" in states[width], width
        # The bar moved: at least three different amounts seen, never going back.
        distinct = sorted(set(seen_values[width]))
        assert len(distinct) >= 3 and seen_values[width] == sorted(seen_values[width]), (width, seen_values)
        text = page.locator("[data-testid=evidence-import]").inner_text()
        assert f"Evidence imported from run {run.run_id}" in text
        assert "Warehouse computed every artifact's SHA-256 digest from the files' bytes itself" in text
        page.reload()
        assert page.locator("#request-pending").count() == 0
        assert "Read and hashed by Warehouse from mlflow-test" in page.locator("#artifacts").inner_text()
        assert weights in page.content()
        assert page.evaluate(_OVERFLOW) == [], width
        page.screenshot(path=str(RESULTS / f"import-done-{width}.png"), full_page=True)
    assert problems == []
