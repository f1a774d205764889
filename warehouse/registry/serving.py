"""The production answer: what `/api/v1/models/<name>/production` tells serving systems.

The answer is a JSON document made once, by the stage door, in the transaction of the change it describes
(`production_document` and the services' `_production_answer_write`), and stored as the bytes that are
served (`ProductionAnswer`). Reading it is one query; a web process remembers it while the change feed
vouches that no newer generation of it has committed (warehouse/changes.py). It never lies: the remembered
bytes are the stored bytes, and the stored bytes are what the last committed stage change wrote.
"""

import hashlib
import json
from dataclasses import dataclass

from warehouse.changes import Memo, Stamp
from warehouse.registry.models import RegisteredModel


def artifact_summary(artifact) -> dict:
    """An artifact as machines read it: where it is and how to check it."""
    return {
        "name": artifact.name,
        "kind": artifact.kind,
        "uri": artifact.uri,
        "sha256": artifact.sha256 or None,
        "size_bytes": artifact.size_bytes,
    }


def production_document(*, model_name: str, version) -> dict:
    """The answer for `version`, the production version of `model_name`, with its artifacts and rollback
    target (`version.rollback_target` and `version.artifacts` are read: select and prefetch them)."""
    return {
        "model": model_name,
        "version": version.number,
        "id": f"{model_name}/v{version.number}",
        "uuid": str(version.uuid),
        "stage": version.stage,
        "in_production_since": version.stage_changed_at.isoformat(),
        "rollback_target": (
            f"{model_name}/v{version.rollback_target.number}" if version.rollback_target_id else None
        ),
        "artifacts": [artifact_summary(artifact) for artifact in version.artifacts.all()],
    }


def production_body(document: dict | None) -> tuple[str, str]:
    """The bytes to serve (as text) and their strong ETag; ("", "") when nothing is in production."""
    if document is None:
        return "", ""
    body = json.dumps(document, separators=(",", ":"))
    return body, f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'


@dataclass(frozen=True)
class ServedAnswer:
    model_id: int
    model_name: str
    generation: int
    body: bytes  # empty when nothing is in production
    etag: str

    @property
    def in_production(self) -> bool:
        return bool(self.body)


def production_answer_read(*, name: str) -> ServedAnswer | None:
    """The stored answer for the model named `name` (None if no such model), in one query."""
    row = (
        RegisteredModel.objects.filter(name=name)
        .values_list(
            "pk", "production_answer__generation", "production_answer__body", "production_answer__etag"
        )
        .first()
    )
    if row is None:
        return None
    model_id, generation, body, etag = row
    return ServedAnswer(model_id, name, generation or 0, (body or "").encode(), etag or "")


# Bounded well above the number of models a registry holds; when full it starts again empty.
_answers = Memo(max_entries=50_000)


def production_answer_get(*, name: str, stamp: Stamp | None) -> ServedAnswer | None:
    """The answer for `name`: from this process's memory while the change feed vouches for it (`stamp`, from
    `current_stamp()` before this call), otherwise from the database (and then remembered). No query on a
    warm path."""
    if stamp is None:
        return production_answer_read(name=name)
    remembered = _answers.get(name, stamp)
    # The stamp covers (re)connections and model deletions; the generation covers each model's own changes.
    if remembered is not None and remembered.generation >= stamp.feed.generation_heard(remembered.model_id):
        return remembered
    answer = production_answer_read(name=name)
    if answer is not None:
        _answers.put(name, stamp, answer)
    return answer
