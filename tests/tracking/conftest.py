"""Real runs logged to the session's MLflow tracking server (`tracking_server`, tests/conftest.py) for the
tests of evidence import (tests/tracking/mlflow_runs.py: log_tracked_run, delete_run, overwrite_model_file).
"""

import pytest

# gate_worker: a real Celery worker process, for imports run the way production runs them.
from tests.promotions.conftest import gate_worker  # noqa: F401
from tests.tracking.mlflow_runs import TrackedRun, log_tracked_run


@pytest.fixture
def interruptible_tracking_server(tracking_server):
    """The session's server, for a test that stops or pauses it: resumed after it, and, if stopped, launched
    again at once; the next test that uses it waits until it answers (tests/conftest.py), so that the
    restart overlaps whatever runs in between."""
    yield tracking_server
    tracking_server.resume()
    if not tracking_server.running:
        tracking_server.launch()


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
    tracking_server.wait_until_ready()
    return log_tracked_run(tracking_server)
