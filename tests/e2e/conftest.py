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


def _unavailable(message: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} CI must run the browser tests.")
    pytest.skip(message)


class BrowserForOneTest:
    """The package's chromium as one test sees it: every page in a context of its own (as Browser.new_page
    makes), and every context this test opened closed after it, so no cookie, storage or route is shared
    between tests."""

    def __init__(self, browser):
        self._browser = browser
        self._contexts = []

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        self._contexts.append(context)
        return context

    def new_page(self, **options):
        return self.new_context(**options).new_page()

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture(scope="package")
def chromium_process():
    """One chromium for the browser tests, launched once (about a second saved per test), again if it died.

    Playwright's sync API runs an event loop in this thread while it is started, and Django refuses
    database calls from a thread with a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set. It is set in
    os.environ while this package's tests run, and only then: set at import, it would leak into every other
    test and subprocess of the run (and fail `manage.py check --deploy`, which rightly refuses it). The
    loop ends with the package, before any other test runs.
    """
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium); no browser is downloaded.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("The playwright package is not installed (pip install -e '.[test]').")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        launched = []

        def browser():
            if not launched or not launched[-1].is_connected():
                launched.append(playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS))
            return launched[-1]

        try:
            yield browser
        finally:
            for each in launched:
                if each.is_connected():
                    each.close()
            # Code run while Playwright drives the loop gets its own database connections (another
            # context); left open they would keep the test database from being dropped.
            connections.close_all()


@pytest.fixture
def chromium(chromium_process):
    """The shared chromium, with a fresh context for every page this test opens (closed after it)."""
    browser = BrowserForOneTest(chromium_process())
    try:
        yield browser
    finally:
        browser.close()
        connections.close_all()
