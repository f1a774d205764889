"""The version page's chart: each slice's value against production's, one panel per metric."""

import math

from django.contrib.humanize.templatetags.humanize import intcomma

from warehouse.charts import MAX_ROWS, Chart, Dot, Frame, Layout, Line, Note, Row, Text, frame_for
from warehouse.numbers import direction_text, metric_text, signed_text
from warehouse.registry.selectors import SliceRow, VersionPage

SLICE_LAYOUT = Layout(
    label_width=250, value_width=80, row_height=24, top=30, bottom=26, grid_gap=8, label_chars=30
)
_VERDICT_CSS = {True: "better", False: "worse"}


def _badness(row: SliceRow) -> float:
    """How much worse than baseline, in the metric's own direction: larger is worse; unknown sorts last."""
    if row.delta is None or not row.direction:
        return -math.inf
    return -row.delta if row.direction == "higher" else row.delta


def _slice_row(frame: Frame, index: int, row: SliceRow) -> Row:
    """A dot for the slice's value; with a production value, a tick there and a line between the two."""
    y, css = frame.y(index), _VERDICT_CSS.get(row.is_better, "same")
    value_x = frame.x(row.value)
    marks = [frame.label(index, row.slice_key)]
    title = f"{row.slice_key}: {metric_text(row.value)}"
    if row.baseline is not None:
        baseline_x = frame.x(row.baseline)
        marks += [
            Line(f"link {css}", min(value_x, baseline_x), max(value_x, baseline_x), y, y),
            Line("base", baseline_x, baseline_x, y - 7, y + 7),
        ]
        title += f" vs {metric_text(row.baseline)} in production ({signed_text(row.delta)}, {css})"
    marks += [Dot(f"dot {css}", value_x, y, 5.5), frame.value(index, intcomma(row.sample_count), "samples")]
    return Row(f"row-{css}", f"{title}, {row.sample_count} samples", marks)


def _slice_panel(metric: str, rows: list[SliceRow], *, baseline, max_rows: int):
    # Worst first, so the regressions a reviewer must read are at the top.
    ordered = sorted(rows, key=lambda r: (-_badness(r), r.slice_key))[:max_rows]
    values = [r.value for r in ordered] + [r.baseline for r in ordered if r.baseline is not None]
    frame = frame_for(SLICE_LAYOUT, values, rows=len(ordered), flat_share=0.05, flat_floor=1.0)
    regressions = sum(1 for r in rows if r.is_regression)
    notes = [Note(direction_text(ordered[0].direction))]
    description = f"Each row is a slice: the dot is this version's {metric}"
    caption = ""
    if baseline is not None:
        notes.append(Note(f"against production v{baseline.number}"))
        description += f", the vertical tick is production v{baseline.number}'s value"
    if regressions:
        notes.append(Note(f"{regressions} worse", "worse"))
    if len(rows) > max_rows:
        shown = (
            f"The {max_rows} slices that compare worst with production, worst first"
            if baseline is not None
            else f"The first {max_rows} slices by name"
        )
        caption = f"{shown}; all {len(rows)} are in the table."
    return frame.panel(
        title=f"{metric} by slice",
        notes=notes,
        description=f"{description}. The table below lists the same numbers.",
        ticks=frame.ticks(metric_text),
        marks=[Text("axis-label", frame.value_x, frame.plot_top, "samples", anchor="end")],
        rows=[_slice_row(frame, index, row) for index, row in enumerate(ordered)],
        caption=caption,
    )


def slice_chart(page: VersionPage, *, max_rows: int = MAX_ROWS) -> Chart:
    """One panel per metric: each slice a dot, production's value a tick, joined by a line coloured by
    verdict."""
    by_metric: dict[str, list[SliceRow]] = {}
    for row in page.slices:
        by_metric.setdefault(row.metric, []).append(row)
    baseline = page.baseline
    legend = []
    if baseline is not None:
        legend = [
            Note("worse than production", "worse"),
            Note("better than production", "better"),
            Note("same, or new in this version (not in production's evaluation)", "same"),
            Note(f"production v{baseline.number}", "base"),
        ]
    missing = len(page.missing_slices)
    return Chart(
        name="chart",
        css="chart",
        panels=[_slice_panel(m, rows, baseline=baseline, max_rows=max_rows) for m, rows in by_metric.items()],
        legend=legend,
        notice=Note(
            f"{missing} slice result{'s' if missing != 1 else ''} of production "
            f"{'is' if missing == 1 else 'are'} missing from this version: nothing to draw for "
            f"{'it' if missing == 1 else 'them'}. The table lists {'it' if missing == 1 else 'them'}.",
            "missing-text",
        )
        if missing
        else None,
    )
