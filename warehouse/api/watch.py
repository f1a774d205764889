"""The watch server's production lookup: an ASGI handler in which a waiting request holds a coroutine, not a
thread.

Serving systems that watch production send `GET /api/v1/models/<name>/production?wait=<seconds>` with the
ETag they hold; the proxy sends those requests to the watch server (`gunicorn -k asgi warehouse.asgi`),
where hundreds may wait at once in one process. The reply is the web server's, made by the same function
(api/production.py) in a worker thread; this module only carries it, and waits between replies for the
change feed's news (or polls, when there is no feed).

Only requests it can answer exactly as Django would are handled here: a GET of that path, with a bearer
token, for a host Django accepts, that Django would not redirect to HTTPS. Anything else (a browser's
session, a bad host, another path) goes to Django's own ASGI application, which answers it as the web
server does.
"""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host

from warehouse.accounts.signin import forwarded_client_address
from warehouse.accounts.token_throttle import API_TOKEN_DOOR, Knock
from warehouse.api.production import (
    POLL_SECONDS,
    Asker,
    Reply,
    production_reply,
    still_waiting,
    wait_seconds,
)
from warehouse.changes import Stamp, current_stamp
from warehouse.errors import InvalidInput

PRODUCTION_PATH = re.compile(r"^/api/v1/models/([^/]+)/production$")

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _headers(scope: Scope) -> dict[str, str]:
    # A header sent twice reads as Django reads it under WSGI: the values joined with commas.
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _host_allowed(headers: dict[str, str]) -> bool:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(headers.get("host", ""))
    return bool(domain) and validate_host(domain, allowed)


def _is_secure(scope: Scope, headers: dict[str, str]) -> bool:
    if scope.get("scheme") == "https":
        return True
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, expected = settings.SECURE_PROXY_SSL_HEADER
        header = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
        return headers.get(header, "").split(",")[0].strip() == expected
    return False


def _handled_here(scope: Scope, headers: dict[str, str]) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "GET"
        and PRODUCTION_PATH.match(scope["path"]) is not None
        and bool(headers.get("authorization"))
        and _host_allowed(headers)
        and (not settings.SECURE_SSL_REDIRECT or _is_secure(scope, headers))
    )


def _response_headers(reply: Reply, secure: bool) -> list[tuple[bytes, bytes]]:
    # What Django's middleware adds to the web server's answer of the same request.
    headers = [
        *reply.header_items(),
        ("Content-Length", str(len(reply.body))),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", settings.SECURE_REFERRER_POLICY),
        ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
        ("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY),
    ]
    if secure and settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append(("Strict-Transport-Security", hsts))
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


# The threads that read the database for watchers (each keeps its connection between uses): a few are
# enough, since a watcher reads only when it starts and when news wakes it.
_readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="watch-reader")


def _reply_now(asker: Asker, name: str, if_none_match: str) -> tuple[Reply, Stamp | None]:
    """The reply as things are, in a reader thread: it may read the database."""
    close_old_connections()
    try:
        stamp = current_stamp()
        return production_reply(asker=asker, name=name, if_none_match=if_none_match, stamp=stamp), stamp
    finally:
        # What Django does at the end of a request: a connection past its age, or broken, is let go.
        close_old_connections()


async def _reply_in_reader(asker: Asker, name: str, if_none_match: str) -> tuple[Reply, Stamp | None]:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_readers, _reply_now, asker, name, if_none_match)


async def _news_or_timeout(stamp: Stamp | None, timeout: float, disconnected: asyncio.Future) -> None:
    """Return when the feed has news since `stamp` (or, without a feed, after a poll interval), when the
    client has gone, or after `timeout`."""
    if stamp is None:
        await asyncio.wait({disconnected}, timeout=min(timeout, POLL_SECONDS))
        return
    feed = stamp.feed
    loop = asyncio.get_running_loop()
    news = loop.create_future()

    def heard() -> None:
        loop.call_soon_threadsafe(lambda: news.done() or news.set_result(None))

    feed.listener_add(heard)
    try:
        if not feed.news_since(stamp.news):
            await asyncio.wait({news, disconnected}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        feed.listener_remove(heard)
        news.cancel()


def _knock(scope: Scope, headers: dict[str, str]) -> Knock:
    """Where the token came from, as the web server would count it: the client's address (behind the proxy,
    the one it appended to X-Forwarded-For), its user agent and the path."""
    remote = (scope.get("client") or ("",))[0] or ""
    return Knock.at(
        API_TOKEN_DOOR,
        address=forwarded_client_address(remote, headers.get("x-forwarded-for", "")),
        user_agent=headers.get("user-agent", ""),
        path=scope["path"],
    )


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lookup(scope: Scope, receive: Receive, send: Send, headers: dict[str, str], name: str) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    secure = _is_secure(scope, headers)
    try:
        wait = wait_seconds(query.get("wait", []))
    except InvalidInput as error:
        body = {"error": {"code": error.code, "message": error.message, "fields": error.errors}}
        reply = Reply(400, body=json.dumps(body).encode(), code=error.code)
        return await _send(send, reply, secure)
    if_none_match = headers.get("if-none-match", "")
    asker = Asker(authorization=headers["authorization"], knock=_knock(scope, headers))
    reply, stamp = await _reply_in_reader(asker, name, if_none_match)
    if wait and still_waiting(reply, if_none_match):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        disconnected = asyncio.ensure_future(_until_disconnected(receive))
        try:
            while still_waiting(reply, if_none_match) and (remaining := deadline - loop.time()) > 0:
                await _news_or_timeout(stamp, remaining, disconnected)
                if disconnected.done():
                    return
                reply, stamp = await _reply_in_reader(asker, name, if_none_match)
        finally:
            disconnected.cancel()
    await _send(send, reply, secure)


async def _send(send: Send, reply: Reply, secure: bool) -> None:
    await send(
        {"type": "http.response.start", "status": reply.status, "headers": _response_headers(reply, secure)}
    )
    await send({"type": "http.response.body", "body": reply.body})


def production_watchers_first(django_application: ASGIApp) -> ASGIApp:
    """The watch server's ASGI application: production lookups here, everything else to Django."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = _headers(scope)
            if _handled_here(scope, headers):
                name = PRODUCTION_PATH.match(scope["path"]).group(1)
                return await _lookup(scope, receive, send, headers, name)
        return await django_application(scope, receive, send)

    return application
