"""The audit trail written out for auditors: CSV for a spreadsheet, JSON Lines for a program. Each row holds
every hashed column, in the exact text the chain hashed, and the event's `prev_hash` and `hash`, so an event
can be re-hashed offline (`warehouse.audit.chain.event_hash`; the README shows the ten lines it takes).

Rows are produced one at a time from an iterator, so a trail of millions of events streams out in constant
memory."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.utils.text import slugify

from warehouse.audit.chain import STORED_COLUMNS, canonical_json, stored_content
from warehouse.audit.models import AuditEvent
from warehouse.audit.selectors import AuditFilters

# The hashed content's keys, in the order of warehouse.audit.chain.event_content, then the chain's own two.
FIELDS = STORED_COLUMNS
EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
}
# A spreadsheet runs a cell that starts with one of these as a formula; labels are typed by users (a token's
# name, a receiver's), so such a cell is written with a leading apostrophe. JSON Lines keeps every value as
# stored: it is the form to verify.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def event_record(event: AuditEvent) -> dict:
    return {**stored_content(event), "prev_hash": event.prev_hash, "hash": event.hash}


def _spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(FIELDS)
    for event in events:
        record = event_record(event)
        record["data"] = canonical_json(record["data"])
        yield line([_spreadsheet_safe(record[field]) for field in FIELDS])


def jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event_record(event), ensure_ascii=False, allow_nan=False) + "\n"


def export_lines(export_format: str, events: Iterable[AuditEvent]) -> Iterator[str]:
    return csv_lines(events) if export_format == "csv" else jsonl_lines(events)


def export_filename(*, filters: AuditFilters, moment: datetime, extension: str) -> str:
    """What and when: audit-trail_action-refused_until-2026-12-01T0000Z_exported-2026-12-03T222000Z.csv."""
    parts = ["audit-trail"]
    for name, value in (("model", filters.model_name), ("actor", filters.actor), ("action", filters.action)):
        if value:
            # `*` would be lost by slugify; "any" keeps `*.refused` and `refused` apart in a file name.
            parts.append(f"{name}-{slugify(value.replace('*', ' any '))[:40]}")
    for name, value in (("since", filters.since), ("until", filters.until)):
        if value:
            parts.append(f"{name}-{value.astimezone(UTC):%Y-%m-%dT%H%MZ}")
    parts.append(f"exported-{moment.astimezone(UTC):%Y-%m-%dT%H%M%SZ}")
    return "_".join(parts) + "." + extension
