"""Real Celery workers for the gate's integration tests, on the database and broker of this test run.

`gate_worker()` starts `celery -A warehouse worker` (solo pool, one process, the queues CELERY_TASK_QUEUES
lists) as a subprocess and returns once it printed "ready". It works on the test's own database, handed to
it as DATABASE_URL: pytest-django's SQLite file, or PostgreSQL's test_<name> database. It uses the broker
the test process publishes to: CELERY_BROKER_URL when set (Redis in CI), else the filesystem transport in
this run's WAREHOUSE_VAR_DIR/broker. Tests that use it are transactional, so the worker sees what the test
committed. Each worker is stopped with a warm shutdown at teardown, before the database is emptied, and
the log of every worker a failing test started is added to its report.
"""

import contextlib
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from tests.workers import WorkerProcess
from warehouse.celery import app


def worker_database_url() -> str:
    """DATABASE_URL naming the database this test run is using (the test database, not the configured one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        assert name != ":memory:" and "mode=memory" not in name, "a worker cannot share an in-memory database"
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise NotImplementedError(f"no worker database URL for {connection.vendor}")


def worker_environment(**overrides: object) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = worker_database_url()
    # The filesystem broker lives in WAREHOUSE_VAR_DIR/broker: the worker's must be this process's folder.
    env["WAREHOUSE_VAR_DIR"] = str(settings.VAR_DIR)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        env.pop("CELERY_BROKER_URL", None)
        expected = str(Path(settings.VAR_DIR) / "broker" / "queue")
        assert app.conf.broker_transport_options["data_folder_out"] == expected, (
            "the test process publishes somewhere else than the worker will read"
        )
    else:
        env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    env.update({name: str(value) for name, value in overrides.items()})
    return env


def queues_purge() -> None:
    """Drop what earlier tests left queued (their run ids mean other rows, or nothing, in this database)."""
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            with contextlib.suppress(conn.channel_errors):
                queue.bind(conn.default_channel).declare()
                queue.bind(conn.default_channel).purge()


@contextlib.contextmanager
def broker_at(url: str):
    """Publish from this process to the broker at `url` until the block ends (a worker keeps its own).

    Celery reads CELERY_BROKER_URL from the environment before its configuration, so both change. The app
    caches a connection pool and a producer pool made for the old URL; both are dropped on the way in and
    out, as Celery itself drops them in a forked child, so the next publish connects anew.
    """
    conf = app.conf
    saved_conf = conf.broker_url, conf.broker_transport_options
    saved_env = {name: os.environ.get(name) for name in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL")}

    def reset_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    os.environ.pop("CELERY_BROKER_WRITE_URL", None)
    os.environ["CELERY_BROKER_URL"] = conf.broker_url = url
    # The filesystem transport's folders mean nothing to another transport: keep only socket timeouts.
    conf.broker_transport_options = {"socket_connect_timeout": 3, "socket_timeout": 5}
    reset_pools()
    try:
        assert app.connection_for_write().as_uri() == Connection(url).as_uri(), "the switch did not take"
        yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        conf.broker_url, conf.broker_transport_options = saved_conf
        reset_pools()


@pytest.fixture
def gate_worker(transactional_db, request):
    """Start a real worker: `gate_worker(GATE_LEASE_SECONDS=5, ...)`; keyword arguments go to its environment.

    Depends on transactional_db, so the workers stop before the database is emptied after the test.
    """
    queues_purge()
    started: list[WorkerProcess] = []
    request.node.celery_workers = started

    def start(**env: object) -> WorkerProcess:
        hostname = f"gates-{len(started) + 1}-{uuid.uuid4().hex[:8]}@tests"
        worker = WorkerProcess(hostname=hostname, env=worker_environment(**env))
        started.append(worker)
        worker.wait_ready(timeout=60)
        log = worker.log()
        # Started without -Q, as make run and docker compose start it: it must consume every queue.
        for queue in app.amqp.queues:
            assert f".> {queue} " in log, f"the worker does not consume {queue!r}\n{worker.describe()}"
        return worker

    yield start

    problems = []
    for worker in started:
        status = worker.stop()
        if worker.killed:
            continue
        if status != 0 or "Warm shutdown" not in worker.log():
            problems.append(worker.describe())
    if problems:
        pytest.fail("A worker did not stop cleanly on SIGTERM:\n" + "\n".join(problems))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries the log of every worker it started."""
    outcome = yield
    report = outcome.get_result()
    workers = getattr(item, "celery_workers", None)
    if workers and report.failed:
        for worker in workers:
            report.sections.append((f"celery worker {worker.hostname} ({report.when})", worker.describe()))
