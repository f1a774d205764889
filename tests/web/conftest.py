"""The production web tier, for real: nginx from deploy/nginx/ in front of gunicorn from deploy/, started by
scripts/webtier.py on the test database.

Without nginx the tests skip on a laptop and fail in CI (.ci/run installs it), where a missing proxy must
not pass silently. A failing test's report carries the output of every server it started.
"""

import os

import pytest

from scripts.webtier import WebTier, nginx_path
from tests.promotions.conftest import worker_environment


@pytest.fixture
def web_tier(transactional_db, request):
    """Start the tier: `web_tier(workers=1, threads=4, watch=True)`; keyword arguments go to WebTier, and
    `env={...}` changes the test run's environment (whose DATABASE_URL names the test database) for it.

    Transactional, so the servers see what the test committed; the tier stops before the database is
    emptied.
    """
    if nginx_path() is None:
        message = "nginx is not installed (apt-get install nginx)."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} CI must run the web tier tests.")
        pytest.skip(message)
    started: list[WebTier] = []
    request.node.web_tiers = started

    def start(*, env: dict[str, str] | None = None, **options) -> WebTier:
        tier = WebTier(env=worker_environment(**(env or {})), **options)
        started.append(tier)
        tier.start()
        return tier

    yield start

    for tier in started:
        tier.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    tiers = getattr(item, "web_tiers", None)
    if tiers and report.failed:
        for number, tier in enumerate(tiers, start=1):
            report.sections.append((f"web tier {number} ({report.when})", tier.describe()))
