"""Small helpers for the registry's pages: stage badges, numbers, links that are safe to click, the slice
chart. None of them runs a query."""

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import reverse
from django.utils.html import format_html

from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import MODEL_NAME
from warehouse.registry.uris import is_web_link

register = template.Library()

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
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return str(number)
    if number == 0:
        return "0"
    if abs(number) >= 100_000:
        return f"{number:,.0f}"
    if abs(number) < 0.0001:
        return f"{number:.3e}"
    text = f"{number:.5g}"
    return text if "e" not in text else f"{number:,.2f}"


@register.filter
def signed(value) -> str:
    """A difference with its sign: +0.0123, −0.004, ±0."""
    if value is None or value == "":
        return "—"
    number = float(value)
    if abs(number) <= 1e-12:
        return "±0"
    return ("+" if number > 0 else "−") + metric(abs(number))


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
def direction_arrow(direction: str) -> str:
    return {"higher": "↑ higher is better", "lower": "↓ lower is better"}.get(direction, "direction unknown")


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


# --- The slice chart ----------------------------------------------------------------------------------

CHART_WIDTH = 1100
LABEL_WIDTH = 250
COUNT_WIDTH = 80
ROW_HEIGHT = 24
TOP = 30
BOTTOM = 26
MAX_CHART_ROWS = 40


@dataclass(frozen=True)
class ChartRow:
    label: str
    y: float
    text_y: float
    value_x: float
    baseline_x: float | None
    low_x: float
    high_x: float
    tick_top: float
    tick_bottom: float
    css: str
    row: object


@dataclass(frozen=True)
class ChartTick:
    x: float
    label: str


@dataclass(frozen=True)
class ChartPanel:
    metric: str
    direction: str
    rows: list[ChartRow]
    ticks: list[ChartTick]
    total: int
    regressions: int
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    label_x: float
    count_x: float
    axis_y: float


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks, tick = [], first
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 12))
        tick += step
    return ticks


def _scale(low: float, high: float, left: float, right: float):
    """Where a value falls between `left` and `right` when `low`..`high` spans them."""
    return lambda value: round(left + (value - low) / (high - low) * (right - left), 2)


def _badness(row) -> float:
    """How much worse than baseline, in the metric's own direction: larger is worse; unknown sorts last."""
    if row.delta is None or not row.direction:
        return -math.inf
    return -row.delta if row.direction == "higher" else row.delta


def slice_chart_panels(slices, *, max_rows: int = MAX_CHART_ROWS) -> list[ChartPanel]:
    """One panel per metric: each slice a dot, its baseline a tick, joined by a line coloured by verdict.
    Rows go worst first, so the regressions a reviewer must read are at the top."""
    by_metric: dict[str, list] = {}
    for row in slices:
        by_metric.setdefault(row.metric, []).append(row)
    panels = []
    plot_left, plot_right = LABEL_WIDTH, CHART_WIDTH - COUNT_WIDTH
    for metric_name, rows in by_metric.items():
        ordered = sorted(rows, key=lambda r: (-_badness(r), r.slice_key))[:max_rows]
        values = [r.value for r in ordered] + [r.baseline for r in ordered if r.baseline is not None]
        low, high = min(values), max(values)
        if high == low:
            pad = abs(high) * 0.05 or 1.0
        else:
            pad = (high - low) * 0.08
        low, high = low - pad, high + pad
        ticks = _nice_ticks(low, high)

        x = _scale(low, high, plot_left, plot_right)

        chart_rows = []
        for index, row in enumerate(ordered):
            y = TOP + index * ROW_HEIGHT + ROW_HEIGHT / 2
            value_x = x(row.value)
            baseline_x = x(row.baseline) if row.baseline is not None else None
            ends = [value_x] + ([baseline_x] if baseline_x is not None else [])
            chart_rows.append(
                ChartRow(
                    label=row.slice_key,
                    y=y,
                    text_y=y + 4,
                    value_x=value_x,
                    baseline_x=baseline_x,
                    low_x=min(ends),
                    high_x=max(ends),
                    tick_top=y - 7,
                    tick_bottom=y + 7,
                    css=verdict(row.is_better),
                    row=row,
                )
            )
        plot_bottom = TOP + len(ordered) * ROW_HEIGHT
        panels.append(
            ChartPanel(
                metric=metric_name,
                direction=ordered[0].direction if ordered else "",
                rows=chart_rows,
                ticks=[ChartTick(x(t), metric(t)) for t in ticks if low <= t <= high],
                total=len(rows),
                regressions=sum(1 for r in rows if r.is_regression),
                height=plot_bottom + BOTTOM,
                plot_left=plot_left,
                plot_right=plot_right,
                plot_top=TOP - 8,
                plot_bottom=plot_bottom,
                label_x=plot_left - 10,
                count_x=CHART_WIDTH - 4,
                axis_y=plot_bottom + 16,
            )
        )
    return panels


@register.inclusion_tag("registry/_slice_chart.html")
def slice_chart(page):
    return {
        "panels": slice_chart_panels(page.slices),
        "width": CHART_WIDTH,
        "max_rows": MAX_CHART_ROWS,
        "baseline": page.baseline,
    }
