"""A real Celery worker process: it starts on the configured broker, takes a message off it, stops cleanly.

The broker is whatever the environment configures, as for the web process: Redis in CI
(CELERY_BROKER_URL), else the embedded filesystem transport, here under a folder of this test's own.
The worker listens on a queue of its own, so it never takes work meant for anything else. The gates that
real workers run are in tests/promotions/test_worker_gates.py.
"""

import os
import subprocess
import sys
import uuid

from tests.workers import ROOT, WorkerProcess

PROBE_TASK = "warehouse.worker_probe"


def test_a_real_worker_consumes_from_the_broker_and_stops_cleanly(tmp_path):
    env = dict(os.environ)
    # Only the filesystem transport (the default) uses this folder; with CELERY_BROKER_URL set it is unused.
    env["WAREHOUSE_VAR_DIR"] = str(tmp_path)
    queue_name = f"worker-test-{uuid.uuid4().hex[:12]}"
    worker = WorkerProcess(hostname=f"{queue_name}@tests", env=env, args=("--queues", queue_name))
    try:
        worker.wait_ready(timeout=30)

        # A message for a task the worker does not know still proves that it takes messages off the broker
        # (it logs it and discards it), without running anything.
        sent = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from warehouse.celery import app; app.send_task(sys.argv[1], queue=sys.argv[2])",
                PROBE_TASK,
                queue_name,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        worker.wait_for(f"Received unregistered task of type '{PROBE_TASK}'", timeout=15)

        assert worker.stop(timeout=20) == 0, worker.describe()
        assert "Warm shutdown" in worker.log()
    finally:
        worker.stop(timeout=5)
