"""Webhook fixtures: a real HTTP receiver on 127.0.0.1, subscriptions made through the service, and audit
events recorded directly (the fan-out reads the trail, whoever wrote it).

The receiver is a `http.server` in a thread: it records every request (path, headers, body) and answers
with the statuses it is told to, in turn (200 once the list runs out). Using it needs
WEBHOOK_ALLOW_PRIVATE_TARGETS, which the fixture turns on; tests about refusals turn it off again.
"""

import http.server
import socket
import threading
from dataclasses import dataclass, field

import pytest

from tests.promotions.conftest import queues_purge
from warehouse.audit.services import audit_record
from warehouse.celery import app as celery_app
from warehouse.webhooks.services import subscription_create


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str
    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    redirect_to: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/warehouse?source=tests"

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)


def _handler_for(receiver: Receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(
                Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            reply = b'{"ok": true}' if status < 300 else b"receiver says no"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.redirect_to or "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            pass

    return Handler


def _serve(host: str, family=socket.AF_INET):
    receiver = Receiver(host=host, port=0)

    class Server(http.server.ThreadingHTTPServer):
        address_family = family

    server = Server((host.strip("[]"), 0), _handler_for(receiver))
    receiver.port = server.server_address[1]
    # Polling for shutdown every 20 ms, not every 0.5 s: each test waits for it when it stops the receiver.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return receiver, server, thread


@pytest.fixture
def receiver(settings):
    """A local HTTP receiver, and WEBHOOK_ALLOW_PRIVATE_TARGETS on so the warehouse may send to it."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver, server, thread = _serve("127.0.0.1")
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def receiver_v6(settings):
    """The same receiver on [::1], where the machine has IPv6."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    try:
        receiver, server, thread = _serve("[::1]", socket.AF_INET6)
    except OSError:
        pytest.skip("cannot listen on [::1]")
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def webhook_queue():
    """Publishes for real, to whatever broker the environment configures; empties the queues before (what
    an earlier test or run left would be counted) and after."""
    queues_purge()
    yield
    queues_purge()


def queued(queue: str = "webhooks") -> int:
    """How many messages wait in `queue` on the configured broker."""
    with celery_app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except conn.channel_errors:
            return 0  # Redis has no queue until something is published to it


def subscribe(actor, *, model=None, url: str, events=("version.registered",), description: str = ""):
    """A subscription made through the service; returns (subscription, secret)."""
    return subscription_create(
        actor=actor, model=model, url=url, events=list(events), description=description
    )


def event_recorded(action: str, *, model_name: str = "", data: dict | None = None, actor=None):
    """An audit event as the services record it, without needing those services."""
    return audit_record(actor=actor, action=action, model_name=model_name, data=data or {})
