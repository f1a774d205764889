"""Reading the whole trail for `verify_audit` in constant memory, as fast as the chain can be hashed.

On PostgreSQL the rows come from a server-side cursor as plain tuples (no model instances), `created_at`
already formatted as the text the chain hashed (a datetime per row would cost more than its hash) and `data`
decoded by psycopg's JSON loader. A reader thread fetches the next batch while the caller hashes this one;
the queue between them holds at most a few batches, so memory stays flat however long the trail. SQLite
reads through the ORM's chunked iterator, in the caller's thread.
"""

import contextlib
import gc
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from psycopg.types.json import JsonbLoader

from warehouse.audit.chain import STORED_COLUMNS, ChainReport, ChainWalk, rows_hash
from warehouse.audit.models import AuditEvent

BATCH = 5000
QUEUED_BATCHES = 4
# While the caller hashes (pure Python, holding the GIL), the reader wakes each time a network buffer of rows
# arrives and must wait for the GIL; at Python's default 5 ms it waits most of the run (verification ran at
# 0.54 of the hash-alone rate), at 0.1 ms it gets the GIL back at once (0.84).
SWITCH_INTERVAL = 0.0001
# The hash-alone rate is measured on about this many of the rows read, spread over the trail.
SAMPLE_ROWS = 50_000
# Same text as warehouse.audit.chain._timestamp: ISO 8601 in UTC with microseconds and a Z.
_PG_TIMESTAMP = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_DONE = object()


def _pg_select() -> str:
    columns = [_PG_TIMESTAMP if column == "created_at" else column for column in STORED_COLUMNS]
    return f"SELECT {', '.join(columns)} FROM audit_auditevent ORDER BY sequence"


def _pg_batches() -> Iterator[list[tuple]]:
    """Batches of rows in sequence order, fetched by a reader thread one batch ahead of the caller."""
    raw = connection.connection  # psycopg's connection: the reader thread is its only user meanwhile
    batches: queue.Queue = queue.Queue(maxsize=QUEUED_BATCHES)
    stop = threading.Event()

    def read() -> None:
        try:
            with raw.cursor(name="audit_verify") as cursor:
                # Django loads jsonb as text for its JSONField to parse; here psycopg parses it as it reads.
                cursor.adapters.register_loader("jsonb", JsonbLoader)
                cursor.execute(_pg_select())
                while not stop.is_set():
                    rows = cursor.fetchmany(BATCH)
                    if not rows:
                        break
                    batches.put(rows)
            batches.put(_DONE)
        except Exception as error:  # noqa: BLE001 - handed to the caller's thread, raised there
            batches.put(error)

    reader = threading.Thread(target=read, name="audit-verify-reader", daemon=True)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    reader.start()
    try:
        while (batch := batches.get()) is not _DONE:
            if isinstance(batch, Exception):
                raise batch
            yield batch
    finally:
        stop.set()
        while reader.is_alive():  # a caller that stopped early: let the reader see `stop` and finish
            try:
                batches.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()
        sys.setswitchinterval(interval)


def _sqlite_batches() -> Iterator[list[tuple]]:
    rows = AuditEvent.objects.order_by("sequence").values_list(*STORED_COLUMNS).iterator(chunk_size=BATCH)
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Progress:
    checked: int
    seconds: float


@dataclass(frozen=True)
class VerifyRun:
    report: ChainReport
    seconds: float  # reading and hashing every event, wall clock (the sample's extra hashing included)
    hashed_bytes: int  # the canonical JSON hashed: what the MB/s figures count
    sample_rows: int
    sample_bytes: int
    sample_seconds: float  # hashing the sample again, alone, rows already in memory

    @property
    def rate(self) -> float:
        return self.report.checked / self.seconds if self.seconds else 0.0

    @property
    def hash_rate(self) -> float:
        return self.sample_rows / self.sample_seconds if self.sample_seconds else 0.0


def _sample_stride() -> int:
    # One batch in `stride` is hashed a second time, alone: about SAMPLE_ROWS rows spread over the trail, so
    # both rates are measured under the same load on the machine; never more than one batch in 20, so the
    # extra hashing, which the verification's own time includes, stays within 5% of it.
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    return max(20, head // SAMPLE_ROWS)


def chain_verify_stored(
    *, progress: Callable[[Progress], None] | None = None, every_seconds: float = 5.0
) -> VerifyRun:
    """Verify the stored trail from its first event, in one snapshot; `progress` is told every
    `every_seconds`. Along the way, hash a sample of the rows read a second time, alone, to show what the
    reading costs next to the hashing."""
    # The rows hold no reference cycles, so reference counting frees every batch; the cycle collector would
    # only walk the batches in flight at random moments, and add its pauses to whichever rate it hit.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _verify(progress, every_seconds)
    finally:
        if gc_was_enabled:
            gc.enable()


def _verify(progress: Callable[[Progress], None] | None, every_seconds: float) -> VerifyRun:
    on_postgresql = connection.vendor == "postgresql"
    # PostgreSQL: one snapshot, and the server-side cursor lives in a transaction. SQLite: none, since its
    # transactions here take the write lock at once (IMMEDIATE), which would stop every writer meanwhile.
    with transaction.atomic() if on_postgresql else contextlib.nullcontext():
        stride = _sample_stride()
        batches = _pg_batches() if on_postgresql else _sqlite_batches()
        walk = ChainWalk()
        sample_rows = sample_bytes = 0
        sample_seconds = 0.0
        began = told = time.perf_counter()
        for index, batch in enumerate(batches):
            if not walk.check(batch):
                batches.close()
                break
            if index % stride == 0:
                sample_began = time.perf_counter()
                sample_bytes += rows_hash(batch)
                sample_seconds += time.perf_counter() - sample_began
                sample_rows += len(batch)
            if progress is not None and time.perf_counter() - told >= every_seconds:
                told = time.perf_counter()
                progress(Progress(walk.checked, told - began))
        seconds = time.perf_counter() - began
    return VerifyRun(
        report=walk.report(),
        seconds=seconds,
        hashed_bytes=walk.hashed_bytes,
        sample_rows=sample_rows,
        sample_bytes=sample_bytes,
        sample_seconds=sample_seconds,
    )
