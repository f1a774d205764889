"""Browser tests: Debian's chromium driven by Playwright, never a downloaded browser.

Without /usr/bin/chromium the tests skip on a laptop and fail in CI, where a missing browser must not pass
silently. The gate tests' real worker (`gate_worker`) is shared with these tests.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.promotions.conftest import gate_worker  # noqa: F401 - a fixture, shared

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
