"""Slow clients cannot starve the site: nginx holds them, and gunicorn only ever sees complete requests.

The tests share the real tier (nginx with deploy/nginx/warehouse.conf.template in front of gunicorn
gthread with deploy/gunicorn.conf.py) with one worker of four threads, and send far more slow clients than
threads; the one behind a TLS load balancer starts its own, configured for it.
"""

import http.client
import selectors
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.cookiejar import CookieJar

import pytest
from django.conf import global_settings

from tests.factories import UserFactory

pytestmark = pytest.mark.webtier

SLOW_CLIENTS = 64  # against 4 threads
ANSWER_WITHIN = 2.0  # seconds, for a request that is not slow
CLIENT_HEADER_TIMEOUT = 10  # the template's client_header_timeout
PASSWORD = "correct horse battery staple"  # UserFactory's
# The tier these tests share (tests/web/conftest.py) with the watcher tests: one worker of four threads,
# and the watch server beside it.
TIER = {"workers": 1, "threads": 4, "watch": True}


class SlowClients:
    """`count` connections that each send `opening` at once, then one byte of `drip` a second (nothing,
    when `drip` is empty), and notice when the server closes them."""

    def __init__(self, address: str, *, count: int, opening: bytes, drip: bytes = b""):
        host, port = address.rsplit(":", 1)
        self.drip = drip
        self.connected_at: dict[socket.socket, float] = {}
        self.open_for: dict[socket.socket, float] = {}  # seconds from connecting to the server closing it
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for _ in range(count):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(opening)
            client.setblocking(False)
            self.connected_at[client] = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name="slow clients")
        self._thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        for client in self.connected_at:
            selector.register(client, selectors.EVENT_READ)
        dripped = 0
        next_drip = time.monotonic() + 1
        while not self._stop.is_set() and selector.get_map():
            for key, _ in selector.select(timeout=max(next_drip - time.monotonic(), 0)):
                self._closed(key.fileobj, selector)
            if time.monotonic() < next_drip:
                continue
            next_drip += 1
            if self.drip:
                position = dripped % len(self.drip)
                for key in list(selector.get_map().values()):
                    try:
                        key.fileobj.send(self.drip[position : position + 1])
                    except OSError:
                        self._closed(key.fileobj, selector)
                dripped += 1
        selector.close()

    def _closed(self, client: socket.socket, selector: selectors.BaseSelector) -> None:
        # Readable means the server answered (an error page) or closed: either way it let the client go.
        selector.unregister(client)
        with self._lock:
            self.open_for[client] = time.monotonic() - self.connected_at[client]

    def still_connected(self) -> int:
        with self._lock:
            return len(self.connected_at) - len(self.open_for)

    def wait_until_all_closed(self, *, timeout: float) -> list[float]:
        deadline = time.monotonic() + timeout
        while self.still_connected() and time.monotonic() < deadline:
            time.sleep(0.1)
        with self._lock:
            return sorted(self.open_for.values())

    def __enter__(self) -> "SlowClients":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for client in self.connected_at:
            client.close()


def timed_get(tier, path: str) -> tuple[int, float]:
    """Status and seconds of a plain GET through the proxy, as a browser that is not slow sends it."""
    host, port = tier.proxy.address.rsplit(":", 1)
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, int(port), timeout=ANSWER_WITHIN + 5)
    try:
        connection.request("GET", path, headers={"Host": tier.host})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response.status, time.monotonic() - started


def assert_site_answers_promptly(tier) -> None:
    """Three rounds, half a second apart, of the two requests a visitor's first look makes."""
    for _ in range(3):
        for path in ("/health/live", "/accounts/sign-in/"):
            status, seconds = timed_get(tier, path)
            assert status == 200, f"GET {path} -> {status}"
            assert seconds < ANSWER_WITHIN, f"GET {path} took {seconds:.2f} s with slow clients connected"
        time.sleep(0.5)


def wait_for_log_lines(tier, *, count: int, where: Callable[[str], bool]) -> list[str]:
    """nginx's access log lines `where` picks, once there are `count` of them: nginx logs a request when it
    is done with it, which may be a moment after the client has its answer."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in tier.access_log() if where(line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_it_answers_while_slow_clients_trickle_their_headers(shared_web_tier):
    tier = shared_web_tier(**TIER)
    opening = f"GET /accounts/sign-in/ HTTP/1.1\r\nHost: {tier.host}\r\nX-Slow: ".encode()
    with SlowClients(tier.proxy.address, count=SLOW_CLIENTS, opening=opening, drip=b"abcdefgh") as slow:
        time.sleep(1.2)  # every slow client has connected and dripped once

        assert_site_answers_promptly(tier)

        assert slow.still_connected() == SLOW_CLIENTS, "the slow clients were let go: nothing was shown"


def test_it_answers_while_slow_clients_trickle_their_bodies(shared_web_tier):
    tier = shared_web_tier(**TIER)
    # With a CSRF cookie, Django reads the form (for its token) before it can answer: the app would wait for
    # the body.
    opening = (
        f"POST /accounts/sign-in/ HTTP/1.1\r\nHost: {tier.host}\r\nCookie: csrftoken={'a' * 32}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nusername="
    ).encode()
    with SlowClients(tier.proxy.address, count=SLOW_CLIENTS, opening=opening, drip=b"a") as slow:
        time.sleep(1.2)

        assert_site_answers_promptly(tier)

        assert slow.still_connected() == SLOW_CLIENTS, "the slow clients were let go: nothing was shown"
    # Once they hang up, nginx logs each unfinished request: not one of them was passed to the app.
    unfinished = wait_for_log_lines(tier, count=SLOW_CLIENTS, where=lambda line: line.startswith("POST "))
    assert [line.rsplit(" ", 1)[1] for line in unfinished] == ["-"] * SLOW_CLIENTS


def test_it_closes_a_client_that_has_not_sent_its_headers_within_the_timeout(shared_web_tier):
    tier = shared_web_tier(**TIER)
    opening = f"GET /accounts/sign-in/ HTTP/1.1\r\nHost: {tier.host}\r\n".encode()
    # The deadline counts from connecting: dripping a header byte a second does not push it back.
    with (
        SlowClients(tier.proxy.address, count=1, opening=opening) as stalled,
        SlowClients(tier.proxy.address, count=1, opening=opening + b"X-Slow: ", drip=b"a") as dripping,
    ):
        wait = CLIENT_HEADER_TIMEOUT + 5
        open_for = stalled.wait_until_all_closed(timeout=wait) + dripping.wait_until_all_closed(timeout=wait)

    assert len(open_for) == 2, f"a slow client was still connected {wait} s after connecting"
    for seconds in open_for:
        assert CLIENT_HEADER_TIMEOUT - 0.5 < seconds < CLIENT_HEADER_TIMEOUT + 2, (
            f"closed after {seconds:.1f} s"
        )


def test_it_takes_bodies_up_to_the_apis_limit_and_refuses_larger_ones_itself(shared_web_tier):
    tier = shared_web_tier(**TIER)
    host, port = tier.proxy.address.rsplit(":", 1)
    path = "/api/v1/models/fraud-scorer/versions"

    def post(body_size: int, *, send_body: bool) -> int:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.putrequest("POST", path, skip_host=True)
            connection.putheader("Host", tier.host)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(body_size))
            connection.endheaders(b" " * body_size if send_body else None)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    # The app answers (without a token: 401); a larger body is refused from its Content-Length alone.
    assert post(5 * 1024 * 1024, send_body=True) == 401
    assert post(7 * 1024 * 1024, send_body=False) == 413

    passed, refused = wait_for_log_lines(tier, count=2, where=lambda line: line.startswith("POST "))
    assert passed == f"POST {path} 401 {tier.web.address}"
    assert refused == f"POST {path} 413 -"


def test_it_sends_watchers_to_the_watch_server_and_everything_else_to_the_web_server(shared_web_tier):
    tier = shared_web_tier(**TIER)
    host, port = tier.proxy.address.rsplit(":", 1)
    requests = [
        ("GET", "/api/v1/models/fraud-scorer/production?wait=5", tier.watch.address),
        ("GET", "/api/v1/models/fraud-scorer/production", tier.web.address),
        ("GET", "/api/v1/models/fraud-scorer/production?wait=", tier.web.address),
        ("POST", "/api/v1/models/fraud-scorer/production?wait=5", tier.web.address),
        ("GET", "/api/v1/models/fraud-scorer/versions?wait=5", tier.web.address),
        ("GET", "/health/live?wait=5", tier.web.address),
    ]
    for method, path, _ in requests:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request(method, path, headers={"Host": tier.host})
            connection.getresponse().read()
        finally:
            connection.close()

    paths = {path for _, path, _ in requests}
    lines = wait_for_log_lines(tier, count=len(requests), where=lambda line: line.split()[1] in paths)
    served_by = {(method, path): upstream for method, path, _status, upstream in map(str.split, lines)}
    for method, path, upstream in requests:
        assert served_by[method, path] == upstream, f"{method} {path} went to {served_by[method, path]}"


def test_behind_a_tls_load_balancer_only_its_https_requests_are_not_redirected(web_tier):
    tier = web_tier(workers=1, threads=4, env={"SECURE_SSL_REDIRECT": "1"})
    host, port = tier.proxy.address.rsplit(":", 1)

    def status_when_forwarded_as(proto: str | None) -> int:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            headers = {"Host": tier.host, **({"X-Forwarded-Proto": proto} if proto else {})}
            connection.request("GET", "/accounts/sign-in/", headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    assert status_when_forwarded_as("https") == 200  # the balancer ended TLS
    assert status_when_forwarded_as(None) == 301  # plain HTTP: redirected to HTTPS
    assert status_when_forwarded_as("ftp") == 301  # anything else is replaced by nginx's own scheme


def test_a_browser_signs_in_through_the_proxy(shared_web_tier, settings):
    """Django compares a form's Origin with the Host the proxy passes on: the port must survive."""
    # The servers know only production's password hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    UserFactory(username="rita")
    tier = shared_web_tier(**TIER)
    sign_in = f"{tier.url}/accounts/sign-in/"
    cookies = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    browser.open(sign_in, timeout=10).read()
    csrf = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")

    form = urllib.parse.urlencode({"username": "rita", "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    answer = browser.open(
        urllib.request.Request(sign_in, data=form.encode(), headers={"Origin": tier.url, "Referer": sign_in}),
        timeout=10,
    )

    assert answer.status == 200
    assert answer.url == f"{tier.url}/"
    assert any(cookie.name == "sessionid" for cookie in cookies)
