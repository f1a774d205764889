"""Real Celery worker processes for tests: started as `celery -A warehouse worker` is in production, watched
line by line, stopped with a warm shutdown (SIGTERM, then SIGKILL after a timeout).

Nothing here is a test double: the worker is the product's own command, on the broker and database the
environment names.
"""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.webtier import die_with_parent

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """One `celery worker` subprocess; its output is collected on a thread so a test can wait for a line."""

    def __init__(self, *, hostname: str, env: dict[str, str], args: tuple[str, ...] = ()):
        self.hostname = hostname
        self.killed = False
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self.process = subprocess.Popen(
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
                "--hostname",
                hostname,
                # Alone on the broker: no need to hear or greet other workers, which only slows the start.
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *args,
            ],
            cwd=ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        threading.Thread(target=self._read, daemon=True, name=f"output of {hostname}").start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def line_count(self) -> int:
        with self._changed:
            return len(self._lines)

    def wait_for(self, text: str, *, timeout: float, after: int = 0) -> str:
        """The first line from line `after` on that contains `text`; fails with the log after `timeout`."""
        deadline = time.monotonic() + timeout
        seen = after
        with self._changed:
            while True:
                for line in self._lines[seen:]:
                    if text in line:
                        return line
                seen = len(self._lines)
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    break
                self._changed.wait(left)
        state = "exited" if self.process.poll() is not None else f"still running after {timeout:g} s"
        pytest.fail(f"Worker {self.hostname} ({state}) never printed {text!r}.\n{self.describe()}")

    def wait_ready(self, *, timeout: float = 60) -> None:
        self.wait_for(f"{self.hostname} ready.", timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to finish, acknowledge or give back what it holds."""
        self.killed = True
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, *, timeout: float = 30) -> int:
        """A warm shutdown (SIGTERM: finish the task in hand, then exit 0); SIGKILL after `timeout`.
        Returns the exit status (negative: the signal that ended it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=10)
                with self._changed:
                    self._lines.append(
                        f"[test] no warm shutdown within {timeout:g} s of SIGTERM: SIGKILL sent"
                    )
        # Let the reader take the last lines (the "Warm shutdown" notice) before anyone reads the log.
        with self._changed:
            self._changed.wait_for(lambda: self._ended, timeout=5)
        return self.process.returncode

    def describe(self) -> str:
        status = self.process.poll()
        title = f"pid {self.pid}, " + ("running" if status is None else f"exit status {status}")
        return (
            f"----- worker {self.hostname} ({title}) -----\n{self.log()}\n----- end of {self.hostname} -----"
        )


def wait_until(condition: Callable[[], object], *, timeout: float, what: str, workers=(), interval=0.05):
    """Poll `condition` until it returns something true, and return that; on timeout fail with the logs."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            logs = "\n".join(worker.describe() for worker in workers)
            pytest.fail(f"Waited {timeout:g} s for {what}.\n{logs}")
        time.sleep(interval)
