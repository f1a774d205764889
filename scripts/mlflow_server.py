"""A real MLflow tracking server in a subprocess, for the tests of evidence import and the import bench.

    with TrackingServerProcess() as server:
        mlflow.set_tracking_uri(server.url)

`mlflow server` on a SQLite store with its artifacts served through the server (the default
serve-artifacts mode): runs get artifact URIs of the form `mlflow-artifacts:/<experiment>/...`, read back
through `/api/2.0/mlflow-artifacts/artifacts/...`, exactly as from a team's shared server. The server can
be stopped and started again on the same port and storage (a tracking server restarting mid-import), and
paused with SIGSTOP (a server that accepts connections but never answers).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ARTIFACTS_SCHEME = "mlflow-artifacts:"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mlflow_executable() -> str:
    """The `mlflow` command of the interpreter running the tests, so the server and the client agree."""
    beside = Path(sys.executable).with_name("mlflow")
    return str(beside) if beside.exists() else "mlflow"


class TrackingServerFailed(RuntimeError):
    pass


@dataclass
class _Start:
    """One launch of the server, as its watching thread saw it."""

    began: float
    done: threading.Event = field(default_factory=threading.Event)
    outcome: str = ""  # "answered", "exited" or "timed out", once done is set
    seconds: float = 0.0  # from the launch until /health first answered
    counted: bool = False  # in start_seconds yet


class TrackingServerProcess:
    """`mlflow server` on 127.0.0.1 with its store and artifacts under `root` (a temporary folder when not
    given, removed by close()). start() returns the seconds it took until /health answered."""

    def __init__(self, root: Path | None = None, *, port: int | None = None, start_timeout: float = 90.0):
        self._owns_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="mlflow-server-"))
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.artifacts_destination = self.root / "artifacts"
        self.backend_store_uri = f"sqlite:///{self.root / 'mlflow.db'}"
        self.start_seconds: list[float] = []
        self._process: subprocess.Popen | None = None
        self._paused = False
        self._start: _Start | None = None
        self._log_number = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        return [
            mlflow_executable(),
            "server",
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.artifacts_destination),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # The server must not inherit a client's settings (a tracking URI, a token) from the test run.
            if not key.startswith("MLFLOW_")
        }
        # No background job runner (huey) to start and wait for, and nothing sent out of the machine.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
        env["DO_NOT_TRACK"] = "true"
        return env

    def start(self) -> float:
        """Start the server and return once it answers: the seconds that took."""
        self.launch()
        return self.wait_until_ready()

    def launch(self) -> None:
        """Start the server's process and return at once; a thread notes when it first answers /health, and
        wait_until_ready() waits for that (a test run launches it early, so that it starts while other tests
        run)."""
        if self._process is not None and self._process.poll() is None:
            raise TrackingServerFailed(f"the tracking server on {self.url} is already running")
        self.artifacts_destination.mkdir(parents=True, exist_ok=True)
        self._log_number += 1
        began = time.monotonic()
        with self._log("stdout").open("wb") as stdout, self._log("stderr").open("wb") as stderr:
            # A session of its own: the CLI starts uvicorn as a child, and signals go to both at once.
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        self._paused = False
        self._start = _Start(began)
        threading.Thread(
            target=self._watch_start, args=(self._process, self._start), daemon=True, name="mlflow start"
        ).start()

    def wait_until_ready(self) -> float:
        """Wait until the launched server has answered /health (at once if it already has); the seconds it
        took from its launch. Raises TrackingServerFailed, with its output, if it exited or did not answer
        within start_timeout."""
        start = self._start
        if self._process is None or start is None:
            raise TrackingServerFailed(f"the tracking server on {self.url} was not launched")
        start.done.wait(self.start_timeout + 10)
        if start.outcome == "exited":
            self._process = None
            raise TrackingServerFailed(f"mlflow server exited while starting:\n{self.describe()}")
        if start.outcome != "answered":
            description = self.describe()
            self.stop()
            raise TrackingServerFailed(
                f"mlflow server did not answer /health within {self.start_timeout:.0f} s:\n{description}"
            )
        if not start.counted:
            start.counted = True
            self.start_seconds.append(start.seconds)
        return start.seconds

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the server (both processes) and wait until its port is free again."""
        process, self._process = self._process, None
        if process is None:
            return
        if self._paused:
            # A stopped process does not act on SIGTERM until it is continued.
            self._signal_group(process, signal.SIGCONT)
            self._paused = False
        self._signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(process, signal.SIGKILL)
            process.wait(timeout=timeout)
        self._wait_for_group_gone(process.pid, timeout)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel's backlog) but nothing answers."""
        if not self.running:
            raise TrackingServerFailed("cannot pause a tracking server that is not running")
        self._signal_group(self._process, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        if self._process is not None:
            self._signal_group(self._process, signal.SIGCONT)
        self._paused = False

    def close(self) -> None:
        self.stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "TrackingServerProcess":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def local_path(self, artifact_uri: str) -> Path:
        """Where an `mlflow-artifacts:/...` URI of this server lies on disk: the ground truth behind the
        proxy, for digests computed without going through it."""
        if not artifact_uri.startswith(ARTIFACTS_SCHEME):
            raise ValueError(f"not an artifact URI of a proxying server: {artifact_uri}")
        path = artifact_uri.removeprefix(ARTIFACTS_SCHEME)
        if path.startswith("//"):  # mlflow-artifacts://host:port/path
            path = path[2:].partition("/")[2]
        return self.artifacts_destination / path.lstrip("/")

    def describe(self) -> str:
        """The server's output since its last start, for a failing test's report."""
        parts = [f"mlflow server on {self.url}, root {self.root}, started {len(self.start_seconds)} time(s)"]
        for stream in ("stdout", "stderr"):
            log = self._log(stream)
            text = log.read_text(errors="replace") if log.exists() else ""
            parts.append(f"--- {stream} ---\n{text[-6000:]}")
        return "\n".join(parts)

    def _log(self, stream: str) -> Path:
        return self.root / f"server-{self._log_number}.{stream}.log"

    def _watch_start(self, process: subprocess.Popen, start: "_Start") -> None:
        """On its own thread: poll /health until the server answers, exits, or start_timeout passes."""
        deadline = start.began + self.start_timeout
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    start.outcome = "exited"
                    return
                try:
                    with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                        if response.status == 200:
                            start.seconds = time.monotonic() - start.began
                            start.outcome = "answered"
                            return
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                time.sleep(0.1)
            start.outcome = "timed out"
        finally:
            start.done.set()

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass

    @staticmethod
    def _wait_for_group_gone(pgid: int, timeout: float) -> None:
        # The CLI forwards SIGTERM to uvicorn; uvicorn may still be closing when the CLI is gone.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
