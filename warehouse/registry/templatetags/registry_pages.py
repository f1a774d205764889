"""Small helpers for every page: stage badges, numbers, links that are safe to click. None of them runs a
query."""

import json
import re
from datetime import UTC, datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import reverse
from django.utils.html import format_html

from warehouse.numbers import direction_text, metric_text, signed_text
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import MODEL_NAME
from warehouse.registry.uris import is_web_link

register = template.Library()

SUMMARY_CHARS = 160  # a cell shows one line of it; cut here too, so a page of long data stays light

_STAGE_LABELS = dict(Stage.choices)
_VERSION_LABEL = re.compile(rf"^(?P<name>{MODEL_NAME.pattern.strip('^$')})/v(?P<number>\d{{1,9}})$")


@register.simple_tag
def stage_badge(stage: str, text: str = ""):
    """A coloured pill naming a stage. Unknown stages get a neutral pill rather than an error."""
    css = stage if stage in _STAGE_LABELS else "unknown"
    return format_html('<span class="badge stage-{}">{}</span>', css, text or _STAGE_LABELS.get(stage, stage))


@register.filter
def stage_label(stage: str) -> str:
    return _STAGE_LABELS.get(stage, stage)


@register.simple_tag
def when(value: datetime | None, seconds: bool = False, short: bool = False):
    """A moment in UTC, always saying so, with the relative time (and, if shortened, the full time) as a
    tooltip."""
    if value is None:
        return format_html('<span class="faint">{}</span>', "—")
    moment = value.astimezone(UTC)
    full = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"
    if short:
        return format_html(
            '<time datetime="{}" title="{}, {}">{}</time>',
            moment.isoformat(),
            full,
            naturaltime(value),
            moment.strftime("%Y-%m-%d"),
        )
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', moment.isoformat(), naturaltime(value), full
    )


@register.filter
def web_link(url: str) -> bool:
    """Whether a user-supplied URL may be a clickable link (http and https only, DESIGN invariant 8)."""
    return is_web_link(url)


@register.filter
def metric(value) -> str:
    """A metric value, short but exact enough to compare: 0.9123, 12.5, 48,213."""
    return metric_text(value)


@register.filter
def signed(value) -> str:
    """A difference with its sign: +0.0123, −0.004, ±0."""
    return signed_text(value)


@register.filter
def subtract(value, other):
    """value − other for numbers of any kind (floats, Decimals); "" when either is missing."""
    if value in (None, "") or other in (None, ""):
        return ""
    try:
        return float(value) - float(other)
    except (TypeError, ValueError):
        return ""


@register.filter
def percent_change(value, baseline) -> str:
    """The relative change of `value` over `baseline`, or "" when it means nothing (no or zero baseline)."""
    try:
        value, baseline = float(value), float(baseline)
    except (TypeError, ValueError):
        return ""
    if baseline == 0:
        return ""
    change = (value - baseline) / abs(baseline) * 100
    if abs(change) < 0.005:
        return "±0%"
    return f"{'+' if change > 0 else '−'}{abs(change):.2f}%"


@register.filter
def verdict(is_better) -> str:
    """A CSS class for a comparison: better, worse or same."""
    return {True: "better", False: "worse"}.get(is_better, "same")


@register.filter
def compact_json(data) -> str:
    """Audit data on one line, keys sorted. Returned as text: the template escapes it."""
    if not data:
        return ""
    return json.dumps(data, separators=(", ", ": "), sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def data_summary(data) -> str:
    """Audit data as one short line to scan down a column: `from: staging · to: production · reason: …`.
    The full JSON sits behind it (pretty_json)."""
    if not data:
        return ""
    if not isinstance(data, dict):
        return compact_json(data)[:SUMMARY_CHARS]
    parts = []
    for key in sorted(data):
        value = data[key]
        text = value if isinstance(value, str) else compact_json(value) or json.dumps(value)
        parts.append(f"{key}: {text}")
    line = " · ".join(" ".join(part.split()) for part in parts)
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


@register.filter
def pretty_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def direction_arrow(direction: str) -> str:
    return direction_text(direction)


@register.simple_tag
def version_url(model_name: str, number: int) -> str:
    return reverse("registry:version", args=[model_name, number])


@register.simple_tag
def audit_target_url(event) -> str:
    """Where the page of an audit event's target is, when it has one; "" otherwise. No query: it reads the
    label the event recorded (fraud-scorer/v7) or its model name."""
    if event.target_type == ModelVersion._meta.label_lower:
        match = _VERSION_LABEL.match(event.target_label or "")
        if match:
            return reverse("registry:version", args=[match["name"], int(match["number"])])
    if event.target_type == RegisteredModel._meta.label_lower and event.model_name:
        return reverse("registry:model", args=[event.model_name])
    return ""
