"""The production web tier, started on this machine for the tests and the bench: nginx in front of gunicorn.

    with WebTier(env=environment, watch=True) as tier:
        urllib.request.urlopen(tier.url + "/health/live")

Each server is started the way docker-compose.yml starts it, from the same files: gunicorn with
deploy/gunicorn.conf.py (warehouse.wsgi), optionally the watch server with deploy/gunicorn-watch.conf.py
(warehouse.asgi:application), and nginx with deploy/nginx/warehouse.conf.template rendered as the official
nginx image renders it. Only what a machine needs changes: free ports on 127.0.0.1, and a temporary
directory that holds nginx's main config, pid, temporary files and logs, and each process's output.
The caller passes the environment (DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS, ...).

Every server dies with the process that started it (Linux's PR_SET_PDEATHSIG, sent when the thread that
started it ends: start a tier from a thread that outlives it). Leaving the `with` block stops them:
SIGTERM, then SIGKILL to what is left after `stop_timeout`.
"""

import asyncio
import contextlib
import ctypes
import http.client
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.healthcheck import allowed_host

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_TEMPLATE = DEPLOY / "nginx" / "warehouse.conf.template"
# Debian installs nginx in /usr/sbin, which is not on every user's PATH.
NGINX_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
PR_SET_PDEATHSIG = 1

# The official nginx image's nginx.conf, reduced to what one test run needs, with every path in the
# tier's directory so that nginx runs as the current user. Its http-level settings that could clash with
# the template (keepalive_timeout) are kept, so a template that works here works in the image.
NGINX_MAIN_CONFIG = """\
daemon off;
# One process: it dies with the test run. A master's workers would outlive a master killed with SIGKILL.
master_process off;
pid {directory}/nginx.pid;
error_log {directory}/error.log notice;

events {{
    worker_connections 1024;
}}

http {{
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    # Which server answered each request: tests read it to check the routing.
    log_format upstream '$request_method $request_uri $status $upstream_addr';
    access_log {directory}/access.log upstream;

    include {directory}/warehouse.conf;
}}
"""


class NginxNotFound(RuntimeError):
    pass


class TierFailed(RuntimeError):
    """A server did not start; the message carries every process's output."""


def nginx_path() -> str | None:
    return shutil.which("nginx", path=NGINX_SEARCH_PATH)


def nginx_site_render(*, listen: str, web_upstream: str, watch_upstream: str) -> str:
    """The template with its three variables filled in, and nothing else: what the official image's
    envsubst does with WAREHOUSE_LISTEN, WAREHOUSE_WEB_UPSTREAM and WAREHOUSE_WATCH_UPSTREAM set."""
    rendered = string.Template(NGINX_TEMPLATE.read_text()).safe_substitute(
        WAREHOUSE_LISTEN=listen, WAREHOUSE_WEB_UPSTREAM=web_upstream, WAREHOUSE_WATCH_UPSTREAM=watch_upstream
    )
    if "${WAREHOUSE_" in rendered:
        raise ValueError(f"{NGINX_TEMPLATE} uses a variable the launcher does not fill in")
    return rendered


def free_port() -> int:
    """A port nothing listens on right now (another process may take it before the server binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli_option(name: str, value: int | None) -> list[str]:
    """`[name, value]` for a value the caller chose; nothing for None, which leaves it to the config file."""
    return [] if value is None else [name, str(value)]


def die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError):
        pass


@dataclass
class Server:
    """One started server: its process (a group leader: its workers are in its group) and its output."""

    name: str
    process: subprocess.Popen
    address: str  # host:port it listens on
    output: Path  # its stdout and stderr

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


class WebTier:
    """nginx (`proxy=True`) in front of gunicorn (the web server) and, with `watch=True`, the watch server.

    `workers` and `threads` override the web server's WEB_CONCURRENCY and WEB_THREADS; left at None, the
    config file reads them from `env`. Without a watch server, nginx sends watchers to the web server.
    """

    def __init__(
        self,
        *,
        env: dict[str, str],
        proxy: bool = True,
        watch: bool = False,
        workers: int | None = None,
        threads: int | None = None,
        start_timeout: float = 60,
        stop_timeout: float = 15,
        keep_directory: bool = False,
    ):
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.with_proxy = proxy
        self.with_watch = watch
        self.workers = workers
        self.threads = threads
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.keep_directory = keep_directory
        # Django answers only the hosts it allows (another is a 400, and a line in its log).
        self.host = allowed_host(self.env)
        self.directory: Path | None = None
        self.web: Server | None = None
        self.watch: Server | None = None
        self.proxy: Server | None = None

    # --- addresses ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where clients go: the proxy, or the web server when there is no proxy."""
        return (self.proxy or self.web).url

    @property
    def web_url(self) -> str:
        return self.web.url

    @property
    def watch_url(self) -> str | None:
        return self.watch.url if self.watch else None

    @property
    def servers(self) -> list[Server]:
        return [server for server in (self.web, self.watch, self.proxy) if server]

    # --- starting and stopping ------------------------------------------------------------------------

    def __enter__(self) -> "WebTier":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        nginx = nginx_path() if self.with_proxy else None
        if self.with_proxy and not nginx:
            raise NginxNotFound("nginx is not installed (Debian: apt-get install nginx): no proxy to start.")
        self.directory = Path(tempfile.mkdtemp(prefix="warehouse-webtier-"))
        try:
            self.web = self._start_gunicorn(
                "web",
                config="gunicorn.conf.py",
                app="warehouse.wsgi",
                options=cli_option("--workers", self.workers) + cli_option("--threads", self.threads),
            )
            if self.with_watch:
                self.watch = self._start_gunicorn(
                    "watch", config="gunicorn-watch.conf.py", app="warehouse.asgi:application", options=[]
                )
            if nginx:
                self.proxy = self._start_nginx(nginx)
            # The proxy last: it answers /health/live only once the web server does.
            for server in self.servers:
                self._wait_until_live(server)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM to every server, the proxy first so that nothing new reaches the app; SIGKILL to the
        process group of any still there after `stop_timeout`."""
        for server in reversed(self.servers):
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for server in reversed(self.servers):
            try:
                server.process.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.process.wait(timeout=10)
        if self.directory and not self.keep_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _start_gunicorn(self, name: str, *, config: str, app: str, options: list[str]) -> Server:
        address = f"127.0.0.1:{free_port()}"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(DEPLOY / config),
            "--bind",
            address,
            # Its control socket would be one path for every gunicorn of this user, each taking it over.
            "--no-control-socket",
            *options,
            app,
        ]
        return self._spawn(name, command, address)

    def _start_nginx(self, nginx: str) -> Server:
        address = f"127.0.0.1:{free_port()}"
        site = nginx_site_render(
            listen=address,
            web_upstream=self.web.address,
            watch_upstream=(self.watch or self.web).address,
        )
        (self.directory / "warehouse.conf").write_text(site)
        config = self.directory / "nginx.conf"
        config.write_text(NGINX_MAIN_CONFIG.format(directory=self.directory))
        # -p: relative paths under the tier's directory; -e: the error log until the config is read
        # (otherwise /var/log/nginx/error.log).
        command = [
            nginx,
            "-p",
            str(self.directory),
            "-c",
            str(config),
            "-e",
            str(self.directory / "error.log"),
        ]
        return self._spawn("proxy", command, address)

    def _spawn(self, name: str, command: list[str], address: str) -> Server:
        output = self.directory / f"{name}.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                # Its own group, so SIGKILL reaches its workers too, and the terminal's Ctrl-C reaches only
                # the process that started it, which stops the tier in order.
                process_group=0,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        return Server(name=name, process=process, address=address, output=output)

    def _wait_until_live(self, server: Server) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if server.process.poll() is not None:
                raise TierFailed(
                    f"{server.name} exited with status {server.process.returncode} before it answered.\n"
                    + self.describe()
                )
            status = self._live_status(server)
            if status == 200:
                return
            if time.monotonic() > deadline:
                raise TierFailed(
                    f"{server.name} at {server.url} did not answer /health/live with 200 within "
                    f"{self.start_timeout:g} s (last: {status}).\n" + self.describe()
                )
            time.sleep(0.1)

    def _live_status(self, server: Server) -> int | str:
        """The status of GET /health/live on `server`, or why there was none."""
        host, port = server.address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=2)
        try:
            connection.request("GET", "/health/live", headers={"Host": self.host})
            return connection.getresponse().status
        except OSError as error:
            return str(error) or type(error).__name__
        finally:
            connection.close()

    # --- output ---------------------------------------------------------------------------------------

    def access_log(self) -> list[str]:
        """nginx's access log: `METHOD URI STATUS UPSTREAM-ADDRESS` per request."""
        path = self.directory / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def describe(self) -> str:
        """Every process's output (and nginx's error log), for a failure report."""
        parts = []
        for server in self.servers:
            status = server.process.poll()
            state = "running" if status is None else f"exit status {status}"
            parts.append(f"----- {server.name} (pid {server.pid}, {state}) -----\n{server.log()}")
        error_log = self.directory / "error.log" if self.directory else None
        if error_log and error_log.exists():
            parts.append(f"----- nginx error.log -----\n{error_log.read_text(errors='replace')}")
        return "\n".join(parts) + "\n----- end of the web tier's output -----"


async def watch(
    address: str, *, host: str, path: str, token: str, etag: str | None
) -> tuple[float, int, bytes]:
    """One serving system watching production, as the tests and the bench start hundreds of them: a GET of
    `path` (with its `?wait=`) on a connection of its own. Returns when its answer came (time.monotonic()),
    its status and its body."""
    server, port = address.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(server, int(port))
    etag_header = f"If-None-Match: {etag}\r\n" if etag else ""
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"{etag_header}Connection: close\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    response = await reader.read()
    answered_at = time.monotonic()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return answered_at, int(head.split()[1]), body
