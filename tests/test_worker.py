"""A real Celery worker process: it starts on the configured broker, takes a message off it, stops cleanly.

The broker is whatever the environment configures, as for the web process: Redis in CI
(CELERY_BROKER_URL), else the embedded filesystem transport, here under a folder of this test's own.
The worker listens on a queue of its own, so it never takes work meant for anything else.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE_TASK = "warehouse.worker_probe"


class Output:
    """Collects a process's output lines on a thread, so the test can wait for one without blocking."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"The worker never printed {text!r}. Its output:\n" + "\n".join(self.lines))

    def rest(self, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "\n".join(self.lines)


@pytest.fixture
def worker_env(tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    # Only the filesystem transport (the default) uses this folder; with CELERY_BROKER_URL set it is unused.
    env["WAREHOUSE_VAR_DIR"] = str(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_a_real_worker_consumes_from_the_broker_and_stops_cleanly(worker_env):
    queue_name = f"worker-test-{uuid.uuid4().hex[:12]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "warehouse",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--queues",
            queue_name,
            "--hostname",
            f"{queue_name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(worker)
    try:
        output.wait_for(" ready.", timeout=20)

        # No app task exists to run yet: a message for a task the worker does not know still proves that it
        # takes messages off the broker (it logs it and discards it).
        sent = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from warehouse.celery import app; app.send_task(sys.argv[1], queue=sys.argv[2])",
                PROBE_TASK,
                queue_name,
            ],
            cwd=ROOT,
            env=worker_env,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        output.wait_for(f"Received unregistered task of type '{PROBE_TASK}'", timeout=10)

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0, output.rest()
        assert "Warm shutdown" in output.rest()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
