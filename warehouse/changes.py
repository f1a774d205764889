"""What this process hears about the commits its remembered answers depend on.

The serving systems' lookup runs no query on a warm path: each web process remembers who a bearer token
speaks for, which models that person may see, and what each model has in production. A remembered answer
is only as good as the news of the commits that would change it, and that news comes from PostgreSQL
itself: triggers call `pg_notify()` in every transaction that changes a token, a person, a group, a
permission or a production answer, and PostgreSQL delivers the notification when, and only if, that
transaction commits. Each process holds one connection that LISTENs (a thread reads it), and this module
turns what it hears into a `Stamp` the caches compare their entries with.

The feed vouches for nothing while that connection is down or has not answered its heartbeat lately
(PostgreSQL restarting, the network cut): every lookup then reads the database, until the feed is back and
starts a new session, in which nothing remembered before counts. On SQLite there is no feed at all.

Before vouching, the asking thread drains whatever the server has already sent on the connection
(`stamp()`), so a notification that reached this process is applied before an answer is served, not
whenever the listening thread is next scheduled. What remains is the time PostgreSQL takes to deliver it:
the committing transaction signals every listening backend as it commits, and each sends the notification
as soon as it is scheduled. Measured on a busy 2-core machine, about one read in a hundred made within two
milliseconds of a commit came before its notification. So a writer answers only once its own process has
heard its change (`heard_before_answering`, a round trip on the listening connection), and the other
processes, signalled at the same moment, have heard it by the time the writer's caller asks again.
"""

import itertools
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections
from psycopg.pq import ConnStatus

logger = logging.getLogger(__name__)

CHANNEL = "warehouse_changes"
# Payloads, written by the triggers (see warehouse/registry/migrations and warehouse/accounts/migrations):
#   "access"                      a token, person, group or permission changed
#   "production <model> <gen>"    model <model>'s production answer is now at generation <gen>
#   "registry"                    a model, a version or a team's name changed (what the lists show)
ACCESS = "access"
PRODUCTION = "production"
REGISTRY = "registry"

# The listening thread asks the server for a round trip this often. Without an answer for STALE_AFTER the
# connection may be silently gone (a cut network, a hung server, shows no error): the feed stops vouching
# and starts again on a new connection. The longest a silently lost connection is trusted.
HEARTBEAT_SECONDS = 0.2
STALE_AFTER_SECONDS = 1.0
RECONNECT_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 3
# TCP keepalives on the listening connection, for when even the heartbeat cannot tell (a half-open socket).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}

# Each feed made in this process gets a new number: a stamp of one feed never matches another's (a feed
# started again after a fork, or after being stopped, knows nothing of what was heard before it).
_feed_numbers = itertools.count(1)


@dataclass(frozen=True)
class Stamp:
    """The feed's state at one instant. An entry remembered under a stamp is current while the feed's
    stamp is the same: no (re)connection and no access change since."""

    feed_number: int
    session: int
    access: int
    feed: "ChangeFeed" = field(compare=False, repr=False)
    # How much news the feed had announced: a waiter passes it to wait_for_news(), so news that arrives
    # between reading with this stamp and starting to wait still wakes it.
    news: int = field(compare=False, default=0)
    # How many changes to what the model lists show the feed had heard. Not compared: a stamp stays the
    # same for tokens, readers and production answers; what depends on the lists compares it as well
    # (`registry_stamp`).
    registry: int = field(compare=False, default=0)

    @property
    def registry_stamp(self) -> tuple:
        """The stamp of an entry that also depends on every model, version and team name."""
        return (self, self.registry)


class ChangeFeed:
    def __init__(self, connect: Callable[[], object]):
        self._connect = connect
        # One lock for the connection and the state it feeds: the listening thread and the asking threads
        # both read the socket, and whoever reads it applies what it read before letting go.
        self._lock = threading.RLock()
        self._news = threading.Condition(self._lock)
        self._connection = None
        self._session = 0
        self._access = 0
        self._registry = 0
        self._generations: dict[int, int] = {}
        self._answered_at = 0.0
        self._heartbeat_pending = False
        # Heartbeats sent and answered, for sync(): one sent after a caller asked, once answered, proves
        # that everything committed before it has been heard.
        self._heartbeats_sent = 0
        self._heartbeats_answered = 0
        self._heartbeat_wanted = False
        # How many times news was announced (see Stamp.news).
        self._news_count = 0
        self._listeners: set[Callable[[], None]] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.pid = os.getpid()
        self.number = next(_feed_numbers)

    # --- What the caches ask ----------------------------------------------------------------------------

    def stamp(self) -> Stamp | None:
        """The state now, after applying what the server already sent; None when the feed cannot vouch."""
        with self._lock:
            if self._connection is None or time.monotonic() - self._answered_at > STALE_AFTER_SECONDS:
                return None
            self._drain(timeout=0)
            if self._connection is None:
                return None
            return Stamp(self.number, self._session, self._access, self, self._news_count, self._registry)

    def generation_heard(self, model_id: int) -> int:
        """The newest production generation announced for `model_id` (0 if none). Kept across sessions:
        generations only grow, and a request that took its stamp before a reconnection still compares its
        remembered answer with everything heard."""
        return self._generations.get(model_id, 0)

    def wait_for_news(self, since: int, timeout: float) -> None:
        """Block until news is announced after a stamp's `news` count `since` (anything heard, or the
        session changed), at most `timeout` seconds."""
        with self._news:
            self._news.wait_for(lambda: self._news_count != since, timeout)

    def sync(self, timeout: float) -> bool:
        """Wait until everything committed before this call has been heard: a round trip on the listening
        connection, which PostgreSQL answers only after delivering the notifications it holds for it.
        True once done; False if the feed cannot vouch or `timeout` passed.

        A writer calls it after its commit (`heard_before_answering`), so that what it reports as done is
        what this process serves from then on; every other process was told by PostgreSQL at the same
        moment."""
        with self._news:
            if self._connection is None:
                return False
            if self._heartbeat_pending:
                # The one in flight was sent before this call: the next one counts.
                target = self._heartbeats_sent + 1
                self._heartbeat_wanted = True
            else:
                self._heartbeat_send(force=True)
                target = self._heartbeats_sent
            return (
                self._news.wait_for(
                    lambda: self._heartbeats_answered >= target or self._connection is None, timeout
                )
                and self._connection is not None
            )

    def forget_everything(self, why: str) -> None:
        """Start a new session on the same connection: nothing remembered under an earlier stamp counts.
        What is read from now on is read after every commit made so far, so it may be remembered again."""
        logger.warning("Change feed: %s; this process forgets what it remembered.", why)
        with self._lock:
            self._session += 1
            self._announce()

    def news_since(self, since: int) -> bool:
        """Whether news was announced after a stamp's `news` count `since`."""
        return self._news_count != since

    def listener_add(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each piece of news; it runs on the thread that heard it, with the feed's
        lock held, and must not block (the ASGI watchers hand it to their event loop)."""
        with self._lock:
            self._listeners.add(listener)

    def listener_remove(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.discard(listener)

    # --- The listening thread ---------------------------------------------------------------------------

    def start(self) -> "ChangeFeed":
        self._thread = threading.Thread(target=self._run, name="warehouse change feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._disconnect()

    def wait_until_live(self, timeout: float) -> bool:
        """For start-up and tests: True once the feed vouches, False if it did not within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stamp() is not None:
                return True
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        while not self._stopping.is_set():
            connection = self._connection
            if connection is None:
                if not self._reconnect():
                    self._stopping.wait(RECONNECT_SECONDS)
                continue
            try:
                select.select([connection.fileno()], [], [], HEARTBEAT_SECONDS / 2)
            except Exception:  # noqa: BLE001 - closed under us by an asking thread that found it broken
                pass  # the drain below, under the lock, tells
            with self._lock:
                if self._connection is not connection:
                    continue
                self._drain(timeout=0)
                if self._connection is not connection:
                    continue
                if time.monotonic() - self._answered_at > STALE_AFTER_SECONDS:
                    self._lost(f"no answer to the heartbeat for {STALE_AFTER_SECONDS:g} s")
                else:
                    self._heartbeat_send()

    def _reconnect(self) -> bool:
        connection = None
        try:
            connection = self._connect()
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception:  # noqa: BLE001 - any failure to connect: vouch for nothing, try again shortly
            logger.warning(
                "Change feed: cannot listen to PostgreSQL; lookups read the database.", exc_info=True
            )
            if connection is not None:
                connection.close()
            return False
        with self._lock:
            # From here on, news is applied under the lock. What arrived with the LISTEN is older than
            # anything the new session will read from the database.
            connection.add_notify_handler(self._heard)
            # A new session: whatever was remembered before may have missed news while nobody listened.
            self._connection = connection
            self._session += 1
            self._answered_at = time.monotonic()
            self._heartbeat_pending = False
            self._announce()
        logger.info("Change feed: listening (session %s).", self._session)
        return True

    def _heartbeat_send(self, *, force: bool = False) -> None:
        """Ask for a round trip, without waiting for it: its answer is read by a later drain. A server that
        hangs must not hold the lock, and with it every lookup, while this thread waits."""
        if self._heartbeat_pending:
            return
        if not force and time.monotonic() - self._answered_at < HEARTBEAT_SECONDS:
            return
        try:
            pgconn = self._connection.pgconn
            pgconn.send_query(b"SELECT 1")
            pgconn.flush()
        except Exception:  # noqa: BLE001 - the connection is gone
            self._lost("cannot send the heartbeat")
            return
        self._heartbeat_pending = True
        self._heartbeat_wanted = False
        self._heartbeats_sent += 1

    def _drain(self, *, timeout: float) -> None:
        """Apply every notification the server has sent so far, and the heartbeat's answer if it came.
        Call with the lock held."""
        connection = self._connection
        answered = False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], timeout)
            pgconn = connection.pgconn
            if readable:
                pgconn.consume_input()
            if self._heartbeat_pending:
                pgconn.flush()
                if not pgconn.is_busy():
                    # Notifications committed before the heartbeat was sent arrive before its answer.
                    while pgconn.get_result() is not None:
                        pass
                    self._heartbeat_pending = False
                    self._answered_at = time.monotonic()
                    self._heartbeats_answered = self._heartbeats_sent
                    answered = True
            # Last, and whether or not the socket had anything new: reading the heartbeat's answer may
            # have parsed notifications that came with it, which libpq holds until asked.
            while (notification := pgconn.notifies()) is not None:
                pgconn.notify_handler(notification)
            broken = pgconn.status != ConnStatus.OK
        except Exception:  # noqa: BLE001 - a closed socket or a server gone: vouch for nothing
            broken = True
        if broken:
            # A terminated backend says so on the socket: this drain is the first to know.
            self._lost("connection closed")
        elif answered:
            self._news.notify_all()  # sync() waits on it; not news, so the count stays
            if self._heartbeat_wanted:
                self._heartbeat_send(force=True)

    def _heard(self, notification) -> None:
        """psycopg's handler for each notification; runs with the lock held (inside a drain or query)."""
        kind, _, rest = notification.payload.partition(" ")
        if kind == ACCESS:
            self._access += 1
        elif kind == PRODUCTION:
            model_id, _, generation = rest.partition(" ")
            try:
                model, generation_number = int(model_id), int(generation)
            except ValueError:
                logger.error("Change feed: unreadable notification %r.", notification.payload)
                return
            if generation_number > self._generations.get(model, 0):
                self._generations[model] = generation_number
        elif kind == REGISTRY:
            # Not announced: the watchers of production answers wait for news of those, not of lists.
            self._registry += 1
            return
        self._announce()

    def _lost(self, why: str) -> None:
        logger.warning("Change feed: %s; lookups read the database until it is back.", why)
        self._disconnect()

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._session += 1
            self._announce()
            try:
                connection.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken connection may fail; it is gone either way
                pass

    def _announce(self) -> None:
        self._news_count += 1
        self._news.notify_all()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # noqa: BLE001 - one listener must not stop the feed
                logger.exception("Change feed listener %r failed.", listener)


# --- This process's feed ---------------------------------------------------------------------------------

_feed: ChangeFeed | None = None
_feed_lock = threading.Lock()


def _connect_default():
    import psycopg

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    return psycopg.connect(**{**params, **KEEPALIVES}, autocommit=True)


def change_feed() -> ChangeFeed | None:
    """This process's feed, started on first use; None where there is none (SQLite).

    Started lazily, in the process that uses it: a forked web worker must not share its parent's socket.
    """
    global _feed
    feed = _feed
    if feed is not None and feed.pid == os.getpid():
        return feed
    if connections["default"].vendor != "postgresql":
        return None
    with _feed_lock:
        if _feed is None or _feed.pid != os.getpid():
            _feed = ChangeFeed(_connect_default).start()
        return _feed


def heard_before_answering(timeout: float = 0.1) -> None:
    """For a writer, after its commit: wait (briefly) until this process's feed has heard it, so that the
    change it reports as done is what this process serves from then on. Nothing to do in a process with
    no feed (a worker, or SQLite)."""
    feed = _feed
    if feed is not None and feed.pid == os.getpid() and not feed.sync(timeout):
        # Not heard in time (a busy server, a slow network): what this process remembers may predate the
        # change, and the feed would still vouch for it until its heartbeat goes stale.
        feed.forget_everything("a writer's change was not heard in time")


def change_feed_stop() -> None:
    """Stop this process's feed (tests, before the test database is dropped)."""
    global _feed
    with _feed_lock:
        feed, _feed = _feed, None
    if feed is not None and feed.pid == os.getpid():
        feed.stop()


# --- Remembering answers under a stamp --------------------------------------------------------------------


class Memo:
    """Answers read from the database, remembered in this process under the stamp they were read after.

    An entry counts only while the feed's stamp is the one it was stored under. Read the stamp *before*
    reading the database and store under that stamp: a change committed in between then invalidates the
    entry rather than hiding behind it. Bounded by entries, and with `max_weight` by the weights given to
    `put` (an answer's size): when full, it starts again empty (the cost is one read per key, and a
    registry's hot keys come back at once).
    """

    def __init__(self, max_entries: int, max_weight: int | None = None):
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._entries: dict = {}
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key, stamp: Stamp):
        """The value remembered for `key` under `stamp`, or None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != stamp:
            return None
        return entry[1]

    def put(self, key, stamp: Stamp, value, weight: int = 0) -> None:
        if self.max_weight is not None and weight > self.max_weight:
            return  # more than the whole memo may hold: not remembered
        with self._lock:  # the weight is a sum that threads add to
            full = len(self._entries) >= self.max_entries
            if full or (self.max_weight is not None and self._weight + weight > self.max_weight):
                self._entries, self._weight = {}, 0
            self._entries[key] = (stamp, value)
            self._weight += weight

    def clear(self) -> None:
        with self._lock:
            self._entries, self._weight = {}, 0


def current_stamp() -> Stamp | None:
    """The feed's stamp now, or None when nothing may be served from memory: no feed (SQLite), a feed that
    cannot vouch now, or a caller inside a transaction (what it reads may be its own uncommitted writes,
    which must never be remembered). Take it before reading the database, and use it for every read of
    the same request."""
    if connections["default"].in_atomic_block:
        return None
    feed = change_feed()
    return feed.stamp() if feed is not None else None
