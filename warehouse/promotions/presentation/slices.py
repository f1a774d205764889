"""The slice regression page of a gate run, shaped for its template: the chart of deltas, the sortable
headers and the verdict filters, all from the rows the slices check recorded."""

import math
from dataclasses import dataclass

from django.http import QueryDict

from warehouse.charts import MAX_ROWS, Bar, Chart, Frame, Layout, Line, Note, Row, Text, frame_for
from warehouse.numbers import direction_text, metric_text, signed_text
from warehouse.promotions.gates.comparison import SliceVerdict
from warehouse.promotions.gates.selectors import VERDICT_LABELS, SliceRegressionView

# --- The chart of slice deltas ----------------------------------------------------------------------------

DELTA_LAYOUT = Layout(
    label_width=260, value_width=92, row_height=22, top=34, bottom=30, grid_gap=10, label_chars=34
)
DELTA_LEGEND = [
    Note("worse beyond the allowed worsening", "v-worse"),
    Note("worse or equal, within tolerance", "v-within_tolerance"),
    Note("better", "v-better"),
    Note("not judged (too few samples, not checked)", "v-other"),
    Note("allowed worsening", "threshold"),
]


def _threshold(row: dict) -> float | None:
    """The delta at which the slice would count as regressed: −allowed when higher is better."""
    allowed = row.get("allowed")
    if allowed is None:
        return None
    return -allowed if row.get("direction", "higher") == "higher" else allowed


def _shown(row: dict, key: str) -> str:
    """A recorded value as a template would show it: "" when the row has no such key."""
    return str(row[key]) if key in row else ""


def _delta_row(frame: Frame, index: int, row: dict, zero_x: float) -> Row:
    """A bar from zero to the slice's delta, and a tick where its allowed worsening ends."""
    y, end, threshold = frame.y(index), frame.x(row["delta"]), _threshold(row)
    verdict = str(row.get("verdict"))
    marks = [
        frame.label(index, str(row.get("slice"))),
        Bar("bar", min(zero_x, end), y - 6, max(abs(end - zero_x), 1.5), 12, 2),
    ]
    if threshold is not None:
        threshold_x = frame.x(threshold)
        marks.append(Line("threshold", threshold_x, threshold_x, y - 9, y + 9))
    marks.append(frame.value(index, signed_text(row["delta"]), "value"))
    title = (
        f"{row.get('slice')}: {metric_text(row.get('value'))} vs {metric_text(row.get('baseline'))} in "
        f"production ({signed_text(row['delta'])}), {_shown(row, 'samples')} samples: "
        f"{VERDICT_LABELS.get(verdict, verdict)}"
    )
    if row.get("allowed") is not None:
        title += f"; allowed worsening {metric_text(row['allowed'])}"
    return Row(f"v-{verdict}", title, marks)


def _uncompared(rows: list[dict]) -> list[str]:
    """Why some slices have no bar, in the words of the evidence: a slice production reports and the
    candidate does not has no candidate value; one the candidate reports and production does not has no
    production value."""
    missing = sum(1 for row in rows if row.get("verdict") == SliceVerdict.MISSING_FROM_CANDIDATE)
    new = sum(1 for row in rows if row.get("verdict") == SliceVerdict.NEW_IN_CANDIDATE)
    other = sum(1 for row in rows if not isinstance(row.get("delta"), int | float)) - missing - new
    parts = []
    if missing:
        parts.append(f" {missing} missing from the candidate (no candidate value)")
    if new:
        parts.append(f" {new} new in the candidate (no production value)")
    if other > 0:
        parts.append(f" {other} without a value on one side")
    return parts


def _caption(cut: int, rows: list[dict], max_rows: int) -> str:
    parts = []
    if cut:
        parts.append(
            f" {cut} more compared slice{'s' if cut != 1 else ''} (the chart shows the first {max_rows} "
            "in the gate's order, worse first)"
        )
    parts += _uncompared(rows)
    if not parts:
        return ""
    return f"Not drawn:{';'.join(parts)}. All are in the table."


def _delta_panel(metric: str, rows: list[dict], *, max_rows: int):
    """None when no slice of `metric` has a delta to draw."""
    compared = [row for row in rows if isinstance(row.get("delta"), int | float)]
    drawn = compared[:max_rows]
    if not drawn:
        return None
    points = [0.0] + [row["delta"] for row in drawn]
    points += [t for t in (_threshold(row) for row in drawn) if t is not None]
    frame = frame_for(
        DELTA_LAYOUT,
        [p for p in points if math.isfinite(p)],
        rows=len(drawn),
        flat_share=0.1,
        flat_floor=0.01,
    )
    zero_x = frame.x(0.0)
    direction = str(drawn[0].get("direction") or "higher")
    left, right = ("← worse", "better →") if direction == "higher" else ("← better", "worse →")
    return frame.panel(
        title=metric,
        notes=[
            Note(direction_text(direction)),
            Note(f"{len(drawn)} slice{'s' if len(drawn) != 1 else ''} drawn"),
        ],
        description=(
            f"Each row is a slice: the bar runs from zero to the change of {metric} against production, "
            "coloured by the gate's verdict; the dashed tick marks the allowed worsening. The table lists "
            "the same numbers."
        ),
        ticks=frame.ticks(signed_text),
        marks=[
            Text("hint", frame.plot_left, frame.plot_top, left, dy="-4"),
            Text("hint", frame.plot_right, frame.plot_top, right, anchor="end", dy="-4"),
            Text("axis-label", frame.value_x, frame.plot_top, "delta", anchor="end", dy="-4"),
            Line("zero", zero_x, zero_x, frame.plot_top, frame.plot_bottom),
        ],
        rows=[_delta_row(frame, index, row, zero_x) for index, row in enumerate(drawn)],
        caption=_caption(len(compared) - len(drawn), rows, max_rows),
    )


def delta_chart(rows: list[dict], *, max_rows: int = MAX_ROWS) -> Chart:
    """One panel per metric: each compared slice a bar from zero to its delta (candidate − production),
    coloured by the gate's verdict, with a tick where the allowed worsening ends. Rows keep the gate's
    order (worse first, worst first), so the top of each panel is what a reviewer must read."""
    by_metric: dict[str, list[dict]] = {}
    for row in rows:
        by_metric.setdefault(str(row.get("metric")), []).append(row)
    panels = [
        _delta_panel(metric, metric_rows, max_rows=max_rows) for metric, metric_rows in by_metric.items()
    ]
    panels = [panel for panel in panels if panel is not None]
    missing = sum(1 for row in rows if row.get("verdict") == SliceVerdict.MISSING_FROM_CANDIDATE)
    return Chart(
        name="delta",
        css="chart delta-chart",
        panels=panels,
        legend=DELTA_LEGEND if panels else [],
        empty="No slice could be compared with production, so there is nothing to draw.",
        notice=Note(
            f"{missing} slice result{'s' if missing != 1 else ''} of production "
            f"{'is' if missing == 1 else 'are'} missing from the candidate: no candidate value, so no bar. "
            "They are listed in the table.",
            "missing-text",
        )
        if missing
        else None,
    )


# --- The table's headers and filters ----------------------------------------------------------------------


@dataclass(frozen=True)
class SortHeader:
    """A column header that sorts the table by its column (server-side, a plain link)."""

    label: str
    numeric: bool
    active: bool
    aria_sort: str  # "ascending", "descending" or "none"
    arrow: str
    href: str


@dataclass(frozen=True)
class VerdictFilter:
    verdict: str
    label: str
    count: int
    current: bool
    href: str


# The table's columns: (column, label, numeric).
COLUMNS = (
    ("slice", "Slice", False),
    ("metric", "Metric", False),
    ("value", "Candidate", True),
    ("baseline", "Production", True),
    ("delta", "Delta", True),
    ("allowed", "Allowed", True),
    ("samples", "Samples", True),
    ("verdict", "Verdict", False),
)
# Columns whose first click sorts the largest first.
_DESCENDING_FIRST = ("worse_by", "samples")


def _sort_header(view: SliceRegressionView, query: QueryDict, column: str, label: str, numeric: bool):
    active = view.sort == column
    descending = not view.descending if active else column in _DESCENDING_FIRST
    query = query.copy()
    query["sort"] = f"-{column}" if descending else column
    return SortHeader(
        label=label,
        numeric=numeric,
        active=active,
        aria_sort=("descending" if view.descending else "ascending") if active else "none",
        arrow=("▼" if view.descending else "▲") if active else "↕",
        href=f"?{query.urlencode()}#table",
    )


def _filter_href(query: QueryDict, verdict: str) -> str:
    query = query.copy()
    if verdict:
        query["verdict"] = verdict
    else:
        query.pop("verdict", None)
    return f"?{query.urlencode()}#table" if query else "?#table"


@dataclass(frozen=True)
class SlicePage:
    view: SliceRegressionView
    chart: Chart
    headers: list[SortHeader]
    filters: list[VerdictFilter]  # one per verdict, in the selector's order
    all_href: str  # every verdict


def slice_page(*, view: SliceRegressionView, query: QueryDict) -> SlicePage:
    """The slice regression page's parts; `query` is the page's query string, which the links keep."""
    return SlicePage(
        view=view,
        chart=delta_chart(view.all_rows),
        headers=[_sort_header(view, query, column, label, numeric) for column, label, numeric in COLUMNS],
        filters=[
            VerdictFilter(
                verdict,
                VERDICT_LABELS.get(verdict, verdict),
                count,
                view.verdict == verdict,
                _filter_href(query, verdict),
            )
            for verdict, count in view.counts.items()
        ],
        all_href=_filter_href(query, ""),
    )
