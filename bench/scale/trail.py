"""The copies' audit trail: each template model's events, replayed for each copy of it, through the chain.

A copied model's history is its template's, so its events are the template's with the copy's name, its
rows' ids and its versions' uuids, appended in order after the templates' own by bench.scale.audit_events
(the same content and hash as audit_record would write), each copy a fixed time after the one before.
"""

import json
from collections.abc import Iterator
from datetime import timedelta

from bench.scale.clone import copied_name, copied_uuid
from warehouse.audit.chain import STORED_COLUMNS
from warehouse.audit.models import AuditEvent

_FIELDS = STORED_COLUMNS[1:9]  # created_at to target_label: kept as the template recorded them


def _target_strides(stride: dict) -> dict[str, int]:
    """Stride per audit target type ("registry.modelversion"), for the copied tables."""
    return {f"{model._meta.app_label}.{model._meta.model_name}": value for model, value in stride.items()}


def template_events() -> list[AuditEvent]:
    """The templates' events about a model, in the order they were recorded."""
    return list(AuditEvent.objects.exclude(model_name="").order_by("sequence"))


def copies_events(
    *, events: list[AuditEvent], stride: dict, templates: int, first: int, last: int
) -> Iterator[dict]:
    """What copies `first` to `last` of the templates would have recorded, copy after copy."""
    targets = _target_strides(stride)
    span = events[-1].created_at - events[0].created_at + timedelta(seconds=1)
    # The event's data as text, so that a copy's names replace the template's in one pass.
    data_text = [json.dumps(event.data, ensure_ascii=False) for event in events]
    for copy in range(first, last + 1):
        for event, text in zip(events, data_text, strict=True):
            name = copied_name(event.model_name, copy, templates)
            row = {field: getattr(event, field) for field in _FIELDS}
            row["created_at"] = event.created_at + copy * span
            row["model_name"] = name
            row["target_label"] = event.target_label.replace(event.model_name, name)
            if event.target_type in targets and event.target_id.isdigit():
                row["target_id"] = str(int(event.target_id) + copy * targets[event.target_type])
            data = json.loads(text.replace(event.model_name, name))
            if "uuid" in data:
                data["uuid"] = str(copied_uuid(data["uuid"], copy))
            row["data"] = data
            yield row
