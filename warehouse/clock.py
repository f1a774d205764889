"""The time the services write. Demo seeding replays a history, so it can set the clock for a while."""

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("warehouse_clock", default=None)


def now() -> datetime:
    return _frozen.get() or timezone.now()


@contextlib.contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    token = _frozen.set(moment)
    try:
        yield
    finally:
        _frozen.reset(token)
