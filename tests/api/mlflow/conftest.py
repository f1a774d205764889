"""The real, unmodified MLflow client (mlflow-skinny) against a live test server: plain HTTP from this
process to the server's thread, on a transactional database so the server sees what the test committed."""

import pytest

from tests.api.support import issue_token


@pytest.fixture
def mlflow_as(transactional_db, live_server, monkeypatch):
    """`mlflow_as(user)`: an MlflowClient calling as `user` with a fresh Warehouse token (None: no token)."""
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from mlflow.utils import request_utils

    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # A server error is a failure here, not something to retry for minutes.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    mlflow.set_tracking_uri(live_server.url)
    mlflow.set_registry_uri(live_server.url)
    # The client keeps its HTTP connections open (a cached requests session per retry setting), and the
    # server's thread for each keeps its database connection: every session it makes is noted, to be closed.
    cached_session = request_utils._cached_get_request_session
    sessions = set()

    def session_noted(*args, **kwargs):
        session = cached_session(*args, **kwargs)
        sessions.add(session)
        return session

    monkeypatch.setattr(request_utils, "_cached_get_request_session", session_noted)

    def client_for(user) -> MlflowClient:
        if user is None:
            monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        else:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", issue_token(user).secret)
        return MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)

    yield client_for
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    # Closed, their connections end the server's threads, which close their database connections; one
    # that a response left checked out goes with the garbage, collected once at the end of the run
    # (tests/conftest.py), before the test database is dropped.
    for session in sessions:
        session.close()
    cached_session.cache_clear()
