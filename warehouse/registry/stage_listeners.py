"""What a stage change means to the apps above the registry, done inside the change's own transaction.

The stage door (`registry.services.version_transition`) cannot import the apps that care about a move
(promotions supersedes the requests it made stale). They register a listener at start-up, in their
AppConfig.ready, as webhooks do with the audit trail; the door calls every listener after every move it
makes, in the same transaction and holding the model row, so no caller (a page, the API, a rollback, the
demo) can forget a consequence. A listener that raises undoes the move.
"""

from collections.abc import Callable
from dataclasses import dataclass

from warehouse.registry.models import ModelVersion, Stage, StageTransition


@dataclass(frozen=True)
class StageChange:
    version: ModelVersion
    from_stage: Stage
    to_stage: Stage
    transition: StageTransition
    # What asked for the move, as its caller passed it through the door (a promotion request, say): a
    # listener leaves its own cause alone.
    cause: object | None = None


_listeners: list[Callable[[StageChange], None]] = []


def stage_listener_add(listener: Callable[[StageChange], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def stage_listeners_run(change: StageChange) -> None:
    for listener in list(_listeners):
        listener(change)
