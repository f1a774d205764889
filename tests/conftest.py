"""Shared fixtures: a team, one person per role (all in the team), an outsider, and a model they work on.

Everything is made through the services on the real database; nothing is mocked.
"""

import gc
import importlib.metadata
import importlib.util
import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection

from tests.api.support import Contract
from tests.emptying import tables_emptied_by_delete  # noqa: F401 - a fixture: DELETE, not TRUNCATE
from tests.factories import model_create_for_tests, user_with_roles
from tests.tracking.mlflow_server import TrackingServerProcess
from warehouse.accounts.roles import Role
from warehouse.accounts.token_throttle import remembered_forget_all
from warehouse.changes import change_feed_stop

IN_CI = os.environ.get("CI", "").lower() == "true"


TRACKING_SERVER_NEEDED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite, except in CI, where a missing PostgreSQL is a failure. Notes
    whether any test uses the tracking server, which is then launched as the run starts."""
    from django.conf import settings

    config.stash[TRACKING_SERVER_NEEDED] = any("tracking_server" in item.fixturenames for item in items)

    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if on_postgres:
        return
    if IN_CI:
        raise pytest.UsageError(
            "CI=true but DATABASE_URL does not point at PostgreSQL: refusing to skip its tests."
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every test makes several people; PBKDF2 would spend most of the run hashing their passwords.
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def token_lockouts_forgotten():
    # What a web process remembers of lockouts for wrong tokens outlives a test's database rows.
    remembered_forget_all()
    yield
    remembered_forget_all()


@pytest.fixture(scope="session", autouse=True)
def change_feed_stopped_at_the_end(django_db_setup, django_db_blocker):
    """The change feed's connection listens on the test database: it is closed before the database is
    dropped (PostgreSQL refuses to drop a database someone is connected to). So is any connection the live
    server's threads still hold for a client connection left open by a response nobody read to the end
    (tests/api/mlflow/conftest.py): collecting the garbage closes those once, here, not after each test."""
    yield
    change_feed_stop()
    gc.collect()


@pytest.fixture(scope="session")
def contract() -> Contract:
    """The OpenAPI document, to hold real answers to (tests/api/support.py)."""
    return Contract()


@pytest.fixture
def team(db):
    return Group.objects.create(name="payments")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", "root-password-1")


@pytest.fixture
def contributor(team):
    return user_with_roles("carol", Role.CONTRIBUTOR, teams=(team,))


@pytest.fixture
def viewer(team):
    return user_with_roles("victor", Role.VIEWER, teams=(team,))


@pytest.fixture
def reviewer(team):
    return user_with_roles("rita", Role.REVIEWER, teams=(team,))


@pytest.fixture
def approver(team):
    return user_with_roles("april", Role.APPROVER, teams=(team,))


@pytest.fixture
def responder(team):
    return user_with_roles("ravi", Role.INCIDENT_RESPONDER, teams=(team,))


@pytest.fixture
def policy_admin(team):
    return user_with_roles("polly", Role.POLICY_ADMIN, teams=(team,))


@pytest.fixture
def outsider(db):
    """Signed in, with every role, but in no team: the model does not exist for them."""
    return user_with_roles("oscar", *Role)


@pytest.fixture
def model(contributor, team):
    return model_create_for_tests(actor=contributor, name="fraud-scorer", team=team)


@pytest.fixture
def version(model):
    return model.versions.get(number=1)


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


# --- A real MLflow tracking server (tests/tracking/mlflow_server.py), for the evidence import and the demo's
# tracked runs. Without the full `mlflow` package (the server; mlflow-skinny alone is only a client) or
# scikit-learn, its tests skip on a laptop and fail in CI, where a missing server must not pass silently. A
# failing test's report carries the server's output.


def _server_unavailable() -> str | None:
    try:
        importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return "the mlflow package (the tracking server) is not installed (pip install -e '.[test]')."
    if importlib.util.find_spec("sklearn") is None:
        return "scikit-learn is not installed (pip install -e '.[test]')."
    return None


@pytest.fixture(scope="session", autouse=True)
def tracking_server_launched(request, tmp_path_factory):
    """When a test of this run uses the tracking server, its process is launched as the run starts (about
    6 s, longer on a loaded machine, while other tests run); `tracking_server` waits for it to answer."""
    if not request.config.stash.get(TRACKING_SERVER_NEEDED, False) or _server_unavailable():
        yield None
        return
    server = TrackingServerProcess(tmp_path_factory.mktemp("mlflow-server"))
    server.launch()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tracking_server(tracking_server_launched):
    """One `mlflow server` for the whole run. A test that stops or pauses it asks for
    `interruptible_tracking_server` instead, which brings it back afterwards."""
    missing = _server_unavailable()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing} CI must run the tracking server tests.")
        pytest.skip(missing)
    server = tracking_server_launched
    if server is None:  # not foreseen at collection (a fixture asked for it by name)
        server = TrackingServerProcess()
        server.launch()
    server.wait_until_ready()
    yield server
    if tracking_server_launched is None:
        server.close()


@pytest.fixture(autouse=True)
def _report_tracking_server(request):
    """A test that uses the server finds it answering (started again, if a test before it stopped it), and
    its report carries the server's output if it fails."""
    if "tracking_server" in request.fixturenames:
        server = request.getfixturevalue("tracking_server")
        if not server.running:
            server.launch()
        server.wait_until_ready()
        request.node.tracking_server = server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "tracking_server", None)
    if server is not None and report.failed:
        report.sections.append((f"mlflow tracking server ({report.when})", server.describe()))
