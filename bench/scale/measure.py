"""What the scale bench measures over HTTP: each page and API list, one client after another request on a
kept-alive connection (latency, p50 and p95), and the API models list under load (wrk: requests a second)."""

import http.client
import http.cookiejar
import statistics
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

from bench.load import wrk


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    samples: int
    bytes: int


def session_sign_in(base: str, *, username: str, password: str) -> str:
    """Sign in through the sign-in form as a person does; the Cookie header of the session."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    sign_in = f"{base}/accounts/sign-in/"
    opener.open(sign_in, timeout=30).read()
    csrf = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
    form = {"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/"}
    request = urllib.request.Request(
        sign_in, data=urllib.parse.urlencode(form).encode(), headers={"Referer": sign_in}
    )
    opener.open(request, timeout=30).read()
    if not any(cookie.name == "sessionid" for cookie in cookies):
        raise RuntimeError(f"signing in as {username} started no session")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def asked_afresh(path: str, number: int) -> str:
    """`path` made a URL no one asked before, so that no process has its answer remembered (the API
    remembers list pages per URL, api/remembered.py): a parameter the list ignores, new each time."""
    return f"{path}{'&' if '?' in path else '?'}afresh={number}-{time.monotonic_ns()}"


def latency(
    base: str, path: str, headers: dict, *, samples: int, warm_up: int = 3, afresh: bool = False
) -> Latency:
    """`samples` requests for `path`, one after another on one connection, after `warm_up` unmeasured ones;
    with `afresh`, each a URL not asked before (`asked_afresh`). Anything but a 200 stops the bench: a fast
    error is not a fast page."""
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    timings, size = [], 0
    try:
        for index in range(warm_up + samples):
            started = time.perf_counter()
            connection.request("GET", asked_afresh(path, index) if afresh else path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
            if index >= warm_up:
                timings.append(elapsed * 1000)
                size = len(body)
    finally:
        connection.close()
    return Latency(
        p50_ms=statistics.median(timings), p95_ms=percentile(timings, 0.95), samples=samples, bytes=size
    )


# More than wrk asks for in a round of the list read afresh: none is asked twice.
AFRESH_PATHS = 20_000


def throughput(
    base: str, path: str, token: str, *, seconds: int, connections: int, afresh: bool = False
) -> tuple[float, int]:
    """Requests a second for `path` at `connections` connections, and how many failed; with `afresh`, each
    request a URL not asked before (`asked_afresh`)."""
    paths = [asked_afresh(path, number) for number in range(AFRESH_PATHS)] if afresh else [path]
    load = wrk(base, paths, token=token, seconds=seconds, connections=connections)
    return load.per_second, load.bad
