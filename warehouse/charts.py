"""The one chart component: panels of labelled rows on a horizontal scale, drawn on the server as inline SVG.

Every chart of the pages (a version's slices against production, a gate run's slice deltas) is built from
these parts and drawn by one partial, `templates/_chart.html`. Under a strict Content Security Policy the
SVG carries no script and no style attribute: shapes get classes, and the stylesheet colours them. Each
panel is an image named by its heading and described in words for screen readers; every page that draws a
chart also lists the same numbers in a table, so nothing depends on seeing it.

The app that owns the numbers decides what a row draws and says; this module holds the geometry (the scale,
its ticks, where each row goes) and the shapes.
"""

import math
from dataclasses import dataclass, field

from django.utils.html import format_html, html_safe
from django.utils.text import Truncator

CHART_WIDTH = 1100
# A chart that draws more rows than this stops being read; the table beside it has them all.
MAX_ROWS = 40


# --- Shapes: each draws itself as one SVG element, its values escaped -----------------------------------


@html_safe
@dataclass(frozen=True)
class Line:
    css: str
    x1: float
    x2: float
    y1: float
    y2: float

    def __str__(self) -> str:
        return format_html(
            '<line class="{}" x1="{}" x2="{}" y1="{}" y2="{}"/>', self.css, self.x1, self.x2, self.y1, self.y2
        )


@html_safe
@dataclass(frozen=True)
class Dot:
    css: str
    cx: float
    cy: float
    r: float

    def __str__(self) -> str:
        return format_html('<circle class="{}" cx="{}" cy="{}" r="{}"/>', self.css, self.cx, self.cy, self.r)


@html_safe
@dataclass(frozen=True)
class Bar:
    css: str
    x: float
    y: float
    width: float
    height: float
    rx: float

    def __str__(self) -> str:
        return format_html(
            '<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="{}"/>',
            self.css,
            self.x,
            self.y,
            self.width,
            self.height,
            self.rx,
        )


@html_safe
@dataclass(frozen=True)
class Text:
    css: str
    x: float
    y: float
    text: str
    anchor: str = ""  # text-anchor: "" (start), "middle" or "end"
    dy: str = ""

    def __str__(self) -> str:
        return format_html(
            '<text class="{}" x="{}" y="{}"{}{}>{}</text>',
            self.css,
            self.x,
            self.y,
            format_html(' dy="{}"', self.dy) if self.dy else "",
            format_html(' text-anchor="{}"', self.anchor) if self.anchor else "",
            self.text,
        )


# --- A chart, its panels and rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A few words beside a panel's title (or in the legend, with `css` naming the swatch)."""

    text: str
    css: str = ""


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Row:
    css: str  # the class of the row's group, which the stylesheet colours by verdict
    title: str  # the row in words: the tooltip, and what a screen reader reads
    marks: list


@dataclass(frozen=True)
class Panel:
    title: str
    notes: list[Note]
    description: str
    height: float
    ticks: list[Tick]
    grid_top: float
    grid_bottom: float
    axis_y: float
    marks: list  # drawn once, over the grid: column headings, hints, a zero line
    rows: list[Row]
    caption: str = ""


@dataclass(frozen=True)
class Chart:
    name: str  # the prefix of the panels' element ids, unique on the page
    css: str  # the classes of each panel's <svg>
    panels: list[Panel]
    legend: list[Note] = field(default_factory=list)
    empty: str = ""  # said instead when there is no panel; nothing when ""
    width: int = CHART_WIDTH
    # What the chart cannot draw and a reader must not miss (slices with no value on one side), said above
    # the panels in words; the table beside the chart lists them.
    notice: Note | None = None


# --- Geometry -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The fixed measures of a kind of chart, in SVG units."""

    label_width: int  # room for the row labels, left of the plot
    value_width: int  # room for a column of values, right of the plot
    row_height: int
    top: int
    bottom: int
    grid_gap: int  # how far the grid reaches above the first row
    label_chars: int  # longer labels are cut short, with an ellipsis
    width: int = CHART_WIDTH


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (steps of 1, 2, 2.5 or 5 times a power of ten) from `low` to `high`."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks, tick = [], math.ceil(low / step) * step
    while tick <= high + step * 1e-9:
        ticks.append(round(tick, 12))
        tick += step
    return ticks


@dataclass(frozen=True)
class Frame:
    """One panel's geometry: `rows` rows over a horizontal scale from `low` to `high`."""

    layout: Layout
    low: float
    high: float
    rows: int

    @property
    def plot_left(self) -> int:
        return self.layout.label_width

    @property
    def plot_right(self) -> int:
        return self.layout.width - self.layout.value_width

    @property
    def plot_top(self) -> int:
        return self.layout.top - self.layout.grid_gap

    @property
    def plot_bottom(self) -> int:
        return self.layout.top + self.rows * self.layout.row_height

    @property
    def height(self) -> int:
        return self.plot_bottom + self.layout.bottom

    @property
    def axis_y(self) -> int:
        return self.plot_bottom + 16

    @property
    def label_x(self) -> int:
        return self.plot_left - 10

    @property
    def value_x(self) -> int:
        return self.layout.width - 4

    def x(self, value: float) -> float:
        """Where `value` falls on the scale."""
        return round(
            self.plot_left + (value - self.low) / (self.high - self.low) * (self.plot_right - self.plot_left),
            2,
        )

    def y(self, index: int) -> float:
        """The middle of row `index`."""
        return self.layout.top + index * self.layout.row_height + self.layout.row_height / 2

    def ticks(self, write) -> list[Tick]:
        """Round values within the scale, each written by `write`."""
        return [
            Tick(self.x(t), write(t)) for t in nice_ticks(self.low, self.high) if self.low <= t <= self.high
        ]

    def label(self, index: int, text: str) -> Text:
        """Row `index`'s label, right-aligned against the plot."""
        cut = Truncator(text).chars(self.layout.label_chars)
        return Text("label", self.label_x, self.y(index) + 4, cut, anchor="end")

    def value(self, index: int, text: str, css: str) -> Text:
        """Row `index`'s figure in the column right of the plot."""
        return Text(css, self.value_x, self.y(index) + 4, text, anchor="end")

    def panel(self, **parts) -> Panel:
        """A panel drawn in this frame, with the grid and the axis where the frame puts them."""
        return Panel(
            height=self.height,
            grid_top=self.plot_top,
            grid_bottom=self.plot_bottom,
            axis_y=self.axis_y,
            **parts,
        )


def frame_for(
    layout: Layout, values: list[float], *, rows: int, flat_share: float, flat_floor: float
) -> Frame:
    """A frame whose scale holds `values` with a margin on each side: 8% of their spread, or, when they are
    all equal, `flat_share` of their size (`flat_floor` if that is zero)."""
    low, high = min(values), max(values)
    span = high - low
    pad = span * 0.08 if span else (abs(high) * flat_share or flat_floor)
    return Frame(layout, low - pad, high + pad, rows)
