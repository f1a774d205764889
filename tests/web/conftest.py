"""The production web tier, for real: nginx from deploy/nginx/ in front of gunicorn from deploy/, started by
scripts/webtier.py on the test database.

`web_tier` starts a tier for one test (a test that changes the tier's environment, or locks an address out
in its processes' memory); `shared_web_tier` hands out one tier per set of options for every test of this
package that asks for the same, started once (about 5 s of starting and stopping saved per test). Between
tests the database is emptied and the flush tells every process of the tier to forget what it remembered
(warehouse/audit/management/commands/flush.py), as it does for the live server; each test reads only the
proxy's access log written since it started.

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
    _nginx_required()
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


class TierForOneTest:
    """A shared tier as one test sees it: the same servers, and the access log from this test on."""

    def __init__(self, tier: WebTier):
        self._tier = tier
        self._log_start = len(tier.access_log())

    def __getattr__(self, name):
        return getattr(self._tier, name)

    def access_log(self) -> list[str]:
        return self._tier.access_log()[self._log_start :]


def _nginx_required() -> None:
    if nginx_path() is None:
        message = "nginx is not installed (apt-get install nginx)."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} CI must run the web tier tests.")
        pytest.skip(message)


@pytest.fixture(scope="package")
def package_tiers(django_db_setup):
    """The tiers shared by this package's tests, by their options; stopped after its last test (before the
    test database is dropped)."""
    tiers: dict[tuple, WebTier] = {}

    def tier_for(*, env: dict[str, str] | None = None, **options) -> WebTier:
        key = (tuple(sorted((env or {}).items())), tuple(sorted(options.items())))
        tier = tiers.get(key)
        if tier is None or any(server.process.poll() is not None for server in tier.servers):
            if tier is not None:
                tier.stop()
            tier = tiers[key] = WebTier(env=worker_environment(**(env or {})), **options)
            tier.start()
        return tier

    yield tier_for
    for tier in tiers.values():
        tier.stop()


@pytest.fixture
def shared_web_tier(package_tiers, transactional_db, request):
    """`shared_web_tier(workers=1, threads=4, watch=True)`: the package's tier with those options, started
    by the first test that asks for it (a server that died is started again). Transactional, so the
    servers see what the test committed."""
    _nginx_required()
    request.node.web_tiers = seen = []

    def tier_for(**options) -> TierForOneTest:
        tier = package_tiers(**options)
        seen.append(tier)
        return TierForOneTest(tier)

    return tier_for


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    tiers = getattr(item, "web_tiers", None)
    if tiers and report.failed:
        for number, tier in enumerate(tiers, start=1):
            report.sections.append((f"web tier {number} ({report.when})", tier.describe()))
