"""Reading alerting webhooks: a Prometheus Alertmanager body (version 4) or a Grafana unified-alerting
webhook body (version 1) into plain alert records. Pure: no database, nothing fetched.

Both send the same alert shape (`alerts[]` with `status`, `labels`, `annotations`, `startsAt`, `endsAt`,
`generatorURL`, `fingerprint`); Grafana adds `dashboardURL`, `panelURL`, `silenceURL`, `values` and
`valueString` to each alert and `orgId`, `title`, `state` and `message` to the body. Everything in an alert
is untrusted text: it is kept as given and checked only for what the database cannot hold.
"""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warehouse.text import is_encodable

# The payload version each sender writes; any other is refused rather than guessed at.
ALERTMANAGER = "alertmanager"
GRAFANA = "grafana"
SUPPORTED_VERSIONS = {ALERTMANAGER: "4", GRAFANA: "1"}
SENDER_NAMES = {ALERTMANAGER: "Alertmanager", GRAFANA: "Grafana"}
STATUSES = ("firing", "resolved")
FINGERPRINT_MAX = 128

# Go's zero time: what both senders write as `endsAt` while an alert has no end.
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

# RFC 3339 as Go writes it: up to nine fractional digits, `Z` or a numeric offset.
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})$"
)


class AlertPayloadError(ValueError):
    """The body cannot be read as this sender's webhook. The message says what is wrong, for the sender."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AlertRecord:
    """One alert, as the sender described it."""

    status: str  # "firing" or "resolved"
    fingerprint: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime | None  # None while the sender gives no end (Go's zero time)
    labels: dict[str, Any]
    annotations: dict[str, Any]
    generator_url: str = ""
    # Grafana only; empty for Alertmanager.
    dashboard_url: str = ""
    panel_url: str = ""
    silence_url: str = ""
    value_string: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, datetime]:
        return (self.fingerprint, self.starts_at)

    def _text(self, mapping: dict[str, Any], name: str) -> str:
        value = mapping.get(name)
        return value if isinstance(value, str) else ""

    @property
    def alertname(self) -> str:
        return self._text(self.labels, "alertname")

    @property
    def severity(self) -> str:
        return self._text(self.labels, "severity")

    @property
    def summary(self) -> str:
        return self._text(self.annotations, "summary") or self._text(self.annotations, "description")

    @property
    def runbook_url(self) -> str:
        return self._text(self.annotations, "runbook_url")


def alerts_parse(kind: str, body: bytes | str) -> list[AlertRecord]:
    """The alerts in a webhook body from `kind` ("alertmanager" or "grafana"), or AlertPayloadError."""
    if kind not in SUPPORTED_VERSIONS:
        raise ValueError(f"Unknown sender {kind!r}.")
    sender = SENDER_NAMES[kind]
    document = _json(body)
    if not isinstance(document, dict):
        raise AlertPayloadError(
            f"The body is JSON but not an object ({_json_type(document)}): a {sender} webhook body is an "
            "object with `version` and `alerts`."
        )
    expected = SUPPORTED_VERSIONS[kind]
    if "version" not in document:
        hint = (
            " (Grafana's legacy alerting webhook has none; use unified alerting)" if kind == GRAFANA else ""
        )
        raise AlertPayloadError(
            f"The body has no `version`{hint}: this endpoint reads {sender} webhook version {expected}."
        )
    version = document["version"]
    if version != expected:
        raise AlertPayloadError(
            f"Unknown {sender} payload version {json.dumps(version)}: this endpoint reads version "
            f'"{expected}".'
        )
    if "alerts" not in document:
        raise AlertPayloadError("The body has no `alerts`: a list of the alerts it is about is required.")
    alerts = document["alerts"]
    if not isinstance(alerts, list):
        raise AlertPayloadError(f"`alerts` must be a list, not {_json_type(alerts)}.")
    try:
        return [_alert(item, f"alerts[{index}]") for index, item in enumerate(alerts)]
    except RecursionError:
        raise AlertPayloadError("An alert nests too deeply to be read.") from None


def _json(body: bytes | str) -> Any:
    def no_constants(name: str):
        # Python reads NaN and Infinity; JSON has no such values, and PostgreSQL's jsonb refuses them.
        raise ValueError(f"{name} is not a JSON value")

    def finite_float(text: str) -> float:
        # 1e400 reads as infinity, which no database stores as JSON.
        value = float(text)
        if math.isinf(value):
            raise ValueError(f"{text} is too large a number")
        return value

    try:
        return json.loads(body, parse_constant=no_constants, parse_float=finite_float)
    except RecursionError:
        raise AlertPayloadError("The body is not JSON that can be read: it nests too deeply.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise AlertPayloadError(f"The body is not JSON: {error}.") from None


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")


def _alert(item: Any, where: str) -> AlertRecord:
    if not isinstance(item, dict):
        raise AlertPayloadError(f"{where} is {_json_type(item)}, not an alert object.")
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        raise AlertPayloadError(f"{where} has no fingerprint: each alert needs its `fingerprint`.")
    if len(fingerprint) > FINGERPRINT_MAX:
        raise AlertPayloadError(f"{where}.fingerprint is longer than {FINGERPRINT_MAX} characters.")
    status = item.get("status")
    if status not in STATUSES:
        raise AlertPayloadError(f'{where}.status is {json.dumps(status)}: it must be "firing" or "resolved".')
    starts_at = _time(item.get("startsAt"), f"{where}.startsAt")
    if starts_at is None:
        raise AlertPayloadError(f"{where}.startsAt is the zero time: an alert must say when it started.")
    ends_at = _time(item.get("endsAt"), f"{where}.endsAt", required=False)
    record = AlertRecord(
        status=status,
        fingerprint=fingerprint,
        starts_at=starts_at,
        ends_at=ends_at,
        labels=_mapping(item.get("labels"), f"{where}.labels"),
        annotations=_mapping(item.get("annotations"), f"{where}.annotations"),
        generator_url=_string(item.get("generatorURL"), f"{where}.generatorURL"),
        dashboard_url=_string(item.get("dashboardURL"), f"{where}.dashboardURL"),
        panel_url=_string(item.get("panelURL"), f"{where}.panelURL"),
        silence_url=_string(item.get("silenceURL"), f"{where}.silenceURL"),
        value_string=_string(item.get("valueString"), f"{where}.valueString"),
        values=_mapping(item.get("values"), f"{where}.values"),
    )
    _storable(record.fingerprint, f"{where}.fingerprint")
    return record


def _time(value: Any, where: str, *, required: bool = True) -> datetime | None:
    """An aware UTC datetime, or None for Go's zero time (and for a missing optional time)."""
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str):
        raise AlertPayloadError(f"{where} is missing or not a string: expected an RFC 3339 time.")
    match = _RFC3339.match(value)
    if match is None:
        raise AlertPayloadError(f"{where} is not a time: {value[:60]!r} (expected RFC 3339).")
    # Python keeps microseconds; Go writes up to nanoseconds.
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{zone}")
        if moment == ZERO_TIME:
            return None
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise AlertPayloadError(f"{where} is not a time: {value[:60]!r}.") from None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertPayloadError(f"{where} must be an object, not {_json_type(value)}.")
    _storable(value, where)
    return value


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AlertPayloadError(f"{where} must be a string, not {_json_type(value)}.")
    _storable(value, where)
    return value


def _storable(value: Any, where: str) -> None:
    """Refuse text the database cannot keep: a NUL character, or a lone surrogate from a `\\ud800` escape."""
    if isinstance(value, dict):
        for key, item in value.items():
            _storable(key, where)
            _storable(item, f"{where}.{key}" if isinstance(key, str) and len(key) < 60 else where)
    elif isinstance(value, list):
        for item in value:
            _storable(item, where)
    elif isinstance(value, str):
        if "\x00" in value:
            raise AlertPayloadError(f"{where} contains a NUL character.")
        if not is_encodable(value):
            raise AlertPayloadError(f"{where} contains a lone surrogate (an invalid \\u escape).")
