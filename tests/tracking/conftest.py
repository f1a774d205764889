"""A real MLflow tracking server for the tests of evidence import (tests/tracking/mlflow_server.py) and real
runs logged to it (tests/tracking/mlflow_runs.py: log_tracked_run, delete_run, overwrite_model_file).

Without the full `mlflow` package (the server; mlflow-skinny alone is only a client) or scikit-learn, these
tests skip on a laptop and fail in CI, where a missing server must not pass silently. A failing test's
report carries the server's output.
"""

import importlib.metadata
import importlib.util
import os

import pytest

# gate_worker: a real Celery worker process, for imports run the way production runs them.
from tests.promotions.conftest import gate_worker  # noqa: F401
from tests.tracking.mlflow_runs import TrackedRun, log_tracked_run
from tests.tracking.mlflow_server import TrackingServerProcess


def _server_unavailable() -> str | None:
    try:
        importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return "the mlflow package (the tracking server) is not installed (pip install -e '.[test]')."
    if importlib.util.find_spec("sklearn") is None:
        return "scikit-learn is not installed (pip install -e '.[test]')."
    return None


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory):
    """One `mlflow server` for the whole run. A test that stops or pauses it asks for
    `interruptible_tracking_server` instead, which brings it back afterwards."""
    missing = _server_unavailable()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing} CI must run the tracking server tests.")
        pytest.skip(missing)
    server = TrackingServerProcess(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.close()


@pytest.fixture
def interruptible_tracking_server(tracking_server):
    """The session's server, for a test that stops or pauses it: resumed and running again after it."""
    yield tracking_server
    tracking_server.resume()
    if not tracking_server.running:
        tracking_server.start()


@pytest.fixture
def configured(tracking_server, db):
    """The session's tracking server, configured in the warehouse as `mlflow-test` (its token unset: the test
    server has no authentication)."""
    from warehouse.tracking.models import TrackingServer

    return TrackingServer.objects.create(
        name="mlflow-test",
        url=tracking_server.url,
        credential_env="WAREHOUSE_TRACKING_TOKEN_MLFLOW_TEST",
        created_at="2026-12-01T00:00:00Z",
    )


@pytest.fixture(scope="session")
def tracked_run(tracking_server) -> TrackedRun:
    """One standard run, logged once for the tests that only read it."""
    return log_tracked_run(tracking_server)


@pytest.fixture(autouse=True)
def _report_tracking_server(request):
    if "tracking_server" in request.fixturenames:
        request.node.tracking_server = request.getfixturevalue("tracking_server")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "tracking_server", None)
    if server is not None and report.failed:
        report.sections.append((f"mlflow tracking server ({report.when})", server.describe()))
