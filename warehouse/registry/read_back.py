"""Reading back a version's files where the warehouse can reach them, so a gate recomputes their digests.

The gate (promotions) cannot import the apps that reach files outside the warehouse's own storage: the
tracking app reads the artifacts of a run on a configured tracking server. Such an app lends a reader at
start-up (AppConfig.ready), as promotions lends its stage listener to the stage door. A reader answers only
for the URIs it can reach, and says which it could not read this time and why.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from warehouse.registry.models import ModelVersion


@dataclass
class ReadBack:
    # uri → the sha256 of the bytes read now, or None when the file is gone.
    digests: dict[str, str | None] = field(default_factory=dict)
    # uri → why it could not be read now (the server down, say): neither verified nor known to differ.
    unreachable: dict[str, str] = field(default_factory=dict)


Reader = Callable[[ModelVersion, list[str]], ReadBack]
_readers: list[Reader] = []


def read_back_reader_add(reader: Reader) -> None:
    if reader not in _readers:
        _readers.append(reader)


def artifacts_read_back(*, version: ModelVersion, uris: list[str]) -> ReadBack:
    """What every lent reader could read of `uris` now."""
    found = ReadBack()
    for reader in list(_readers):
        answer = reader(version, uris)
        found.digests.update(answer.digests)
        found.unreachable.update(answer.unreachable)
    return found
