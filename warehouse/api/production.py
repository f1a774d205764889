"""GET /api/v1/models/<name>/production: what serving systems ask all day, and how watchers wait for it.

The reply is made here once, whichever server carries it: the web server's Django view (views.production)
and the watch server's ASGI handler (api/watch.py) only move it over HTTP. On a warm path it runs no query:
the token's holder, what they may see and the answer itself are remembered in this process while the
change feed vouches for them (warehouse/changes.py); otherwise they are read from the database, one query
each. The answer is the stored bytes the last committed stage change wrote (registry/serving.py), with a
strong ETag: a poller that sends `If-None-Match` is told 304 Not Modified while production is unchanged.

Watching: `?wait=<seconds>` (up to WAIT_MAX_SECONDS) holds the request while what the caller has is still
what there is (its ETag matches, or nothing is in production and it sent no ETag), and answers as soon as
production changes, or at the end of the wait with what there is then (304, or the 404).
"""

import json
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from django.db import InterfaceError, OperationalError
from django.utils.http import parse_etags

from warehouse.accounts.serving import active_person_is_superuser, model_visible, token_holder_get
from warehouse.accounts.token_throttle import (
    Knock,
    api_token_refusal_record,
    lockout_message,
    lockout_seconds,
    token_door_locked,
)
from warehouse.api.http import NOT_FOUND_MESSAGE
from warehouse.changes import Stamp, current_stamp
from warehouse.errors import InvalidInput
from warehouse.numbers import whole_number
from warehouse.registry.services import MODEL_NAME
from warehouse.registry.serving import production_answer_get

WAIT_MAX_SECONDS = 60
# Without the change feed (SQLite, or PostgreSQL unreachable) a watcher looks again this often.
POLL_SECONDS = 1.0
# On the web server a waiting request holds a thread (the watch server holds none): at most this many
# wait at once in one process; others are told to ask again in a second (429).
BLOCKING_WAITERS_MAX = 4
DATABASE_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    etag: str = ""
    code: str = ""  # an error's code
    headers: tuple[tuple[str, str], ...] = ()

    def header_items(self) -> list[tuple[str, str]]:
        """Every header of the reply, but the server's own."""
        items = list(self.headers)
        if self.body:
            items.append(("Content-Type", "application/json"))
        if self.etag:
            # Revalidate every time (the answer may change at any commit); only the caller may keep it.
            items += [("ETag", self.etag), ("Cache-Control", "private, no-cache")]
        return items


def _error(status: int, code: str, message: str, *headers: tuple[str, str]) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Reply(status, body=body, code=code, headers=headers)


# The database cannot be reached (or answered with a broken connection): worth asking again. Any other
# database error is a defect, and is not dressed up as an outage.
UNREACHABLE = (OperationalError, InterfaceError)

NOT_FOUND = _error(404, "not_found", NOT_FOUND_MESSAGE)
TOO_MANY_WAITING = _error(
    429,
    "too_many_waiting",
    "This server holds as many waiting lookups as it may; ask again in a second, or watch through the "
    "watch server.",
    ("Retry-After", "1"),
)
DATABASE_UNAVAILABLE = _error(
    503,
    "database_unavailable",
    "The registry's database cannot be reached; nothing is answered rather than a guess. Try again shortly.",
    ("Retry-After", str(DATABASE_RETRY_AFTER_SECONDS)),
)


def unauthenticated(message: str) -> Reply:
    return _error(401, "unauthenticated", message, ("WWW-Authenticate", 'Bearer realm="warehouse"'))


def locked_out() -> Reply:
    """The address sent too many wrong tokens lately (accounts/token_throttle.py)."""
    return _error(429, "locked_out", lockout_message(), ("Retry-After", str(lockout_seconds())))


class Caller(Protocol):
    """Who is asking, as far as visibility needs to know: a token's holder (accounts.serving.TokenHolder)
    or a signed-in person (SignedIn)."""

    user_id: int
    is_superuser: bool


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    is_superuser: bool


@dataclass(frozen=True)
class Asker:
    """What a request says about who asks: its Authorization header (and where it came from, `knock`, for
    counting wrong tokens), or the signed-in person's id. A wait reads it again before each answer, so a
    token revoked or a person deactivated meanwhile is refused."""

    authorization: str = ""
    user_id: int | None = None
    knock: Knock | None = None


def bearer_caller(authorization: str, stamp: Stamp | None, knock: Knock | None = None) -> Caller | Reply:
    """The caller an `Authorization` header names, or the 401 (or 429, 503) to answer instead. With `knock`,
    a wrong token is counted and an address locked out is refused without looking at its token; with a good
    token and no lockout in sight that costs no query (accounts/token_throttle.py)."""
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return unauthenticated("Use 'Authorization: Bearer <token>'.")
    try:
        if knock is not None and token_door_locked(knock):
            return locked_out()
        holder = token_holder_get(secret=secret.strip(), stamp=stamp)
        if (
            holder is None
            and knock is not None
            and api_token_refusal_record(knock=knock, secret=secret.strip())
        ):
            return locked_out()
    except UNREACHABLE:
        return DATABASE_UNAVAILABLE
    if holder is None:
        return unauthenticated("The token is unknown, revoked or expired.")
    return holder


def caller_of(asker: Asker, stamp: Stamp | None) -> Caller | Reply:
    if asker.authorization:
        return bearer_caller(asker.authorization, stamp, asker.knock)
    try:
        is_superuser = active_person_is_superuser(user_id=asker.user_id)
    except UNREACHABLE:
        return DATABASE_UNAVAILABLE
    if is_superuser is None:
        return unauthenticated("Sign in, or send an API token: 'Authorization: Bearer <token>'.")
    return SignedIn(asker.user_id, is_superuser)


def wait_seconds(values: list[str]) -> int:
    """The `wait` query parameter (every value given): whole seconds, 0 to WAIT_MAX_SECONDS (0 or absent:
    do not wait). Given twice it is refused: the proxy routes on the first and Django reads the last."""
    if len(values) > 1:
        raise InvalidInput({"wait": ["Give it once."]}, "The query parameters have errors.")
    raw = values[0] if values else ""
    if raw == "":
        return 0
    seconds = whole_number(raw)
    if seconds is None or seconds > WAIT_MAX_SECONDS:
        raise InvalidInput(
            {"wait": [f"Whole seconds from 0 to {WAIT_MAX_SECONDS}."]}, "The query parameters have errors."
        )
    return seconds


def _matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match compares weakly: W/"x" matches "x".
    wanted = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
    return "*" in wanted or etag in wanted


def production_reply(
    *, asker: Asker, name: str, if_none_match: str, stamp: Stamp | None, caller: Caller | None = None
) -> Reply:
    """What is in production for the model `name`, as the one asking may be told it. `stamp` is from
    `current_stamp()`, taken before anything of this request was read; `caller`, when the view already
    knows who asks (the first answer of a request), saves reading it again."""
    if caller is None:
        caller = caller_of(asker, stamp)
        if isinstance(caller, Reply):
            return caller
    if not MODEL_NAME.match(name):
        return NOT_FOUND  # no model has such a name: not worth asking the database
    try:
        answer = production_answer_get(name=name, stamp=stamp)
        # Hidden and missing read the same (DESIGN invariant 9).
        if answer is None or not model_visible(
            user_id=caller.user_id, is_superuser=caller.is_superuser, model_id=answer.model_id, stamp=stamp
        ):
            return NOT_FOUND
    except UNREACHABLE:
        return DATABASE_UNAVAILABLE
    if not answer.in_production:
        return _error(404, "no_production_version", f"{answer.model_name} has no version in production.")
    if if_none_match and _matches(if_none_match, answer.etag):
        return Reply(304, etag=answer.etag)
    return Reply(200, body=answer.body, etag=answer.etag)


def still_waiting(reply: Reply, if_none_match: str) -> bool:
    """Whether a watcher's wait goes on: what it has is still what there is."""
    return reply.status == 304 or (reply.code == "no_production_version" and not if_none_match)


_blocking_waiters = threading.BoundedSemaphore(BLOCKING_WAITERS_MAX)


def production_reply_waiting(
    *, asker: Asker, caller: Caller, name: str, if_none_match: str, wait: int
) -> Reply:
    """The reply after waiting up to `wait` seconds for production to change, holding this thread: the web
    server's way (the watch server waits without a thread, api/watch.py). Who asks is read again before
    each answer after the first."""
    stamp = current_stamp()
    reply = production_reply(asker=asker, caller=caller, name=name, if_none_match=if_none_match, stamp=stamp)
    if not still_waiting(reply, if_none_match):
        return reply
    if not _blocking_waiters.acquire(blocking=False):
        return TOO_MANY_WAITING
    try:
        deadline = time.monotonic() + wait
        while still_waiting(reply, if_none_match) and (remaining := deadline - time.monotonic()) > 0:
            if stamp is not None:
                # News since the stamp (anything heard, or the feed reconnecting) wakes the wait at once.
                stamp.feed.wait_for_news(stamp.news, remaining)
            else:
                time.sleep(min(remaining, POLL_SECONDS))
            stamp = current_stamp()
            reply = production_reply(asker=asker, name=name, if_none_match=if_none_match, stamp=stamp)
    finally:
        _blocking_waiters.release()
    return reply
