"""Helpers for the gate and policy pages: status badges and icons, the numbers each check compared shaped
into small tables, the chart of slice deltas, and a policy's rules in words.

Only `gate_panel` runs queries (two, whatever the number of runs): the registry's version page cannot
import the promotions app (dependencies run one way), so it asks for its gate part through this tag.
"""

import json
import math
from dataclasses import dataclass, field

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from warehouse.cards.sections import Section
from warehouse.promotions.forms import SECTION_TITLES
from warehouse.promotions.gates.selectors import VERDICT_LABELS, version_gate_panel
from warehouse.promotions.models import GateState
from warehouse.promotions.policies.rules import Check, PolicyRules, SectionRules
from warehouse.promotions.policies.selectors import policy_page_url
from warehouse.registry.models import ArtifactKind, Stage
from warehouse.registry.templatetags.registry_pages import _nice_ticks, _scale, metric, signed

register = template.Library()

_STATE_LABELS = dict(GateState.choices)
_STATUS_LABELS = {"passed": "Passed", "failed": "Failed", "warning": "Warning", "error": "Error"}
_SECTION_LABELS = dict(Section.choices)
_KIND_LABELS = dict(ArtifactKind.choices)

# 16×16 icons drawn with presentation attributes only; their colours come from the stylesheet.
_ICONS = {
    "passed": '<circle cx="8" cy="8" r="7.5"/><path class="mark" d="M4.6 8.3l2.2 2.2 4.6-4.8"/>',
    "failed": '<circle cx="8" cy="8" r="7.5"/><path class="mark" d="M5.3 5.3l5.4 5.4M10.7 5.3l-5.4 5.4"/>',
    "warning": '<path d="M8 .9l7.4 13.6H.6z"/><path class="mark" d="M8 5.6v4"/>'
    '<circle class="dotmark" cx="8" cy="12.2" r=".9"/>',
    "error": '<rect x=".5" y=".5" width="15" height="15" rx="3.5"/><path class="mark" d="M8 3.8v5.2"/>'
    '<circle class="dotmark" cx="8" cy="11.9" r=".95"/>',
    "pending": '<circle cx="8" cy="8" r="7"/><path class="mark" d="M8 4.2V8l2.6 1.7"/>',
    "running": '<circle class="track" cx="8" cy="8" r="6.2"/>'
    '<path class="arc" d="M8 1.8a6.2 6.2 0 0 1 6.2 6.2"/>',
    "done": '<circle cx="8" cy="8" r="7"/><path class="mark" d="M4.8 8.2l2.1 2.1 4.3-4.5"/>',
    "waiting": '<circle cx="8" cy="8" r="6.5"/>',
}


@register.simple_tag
def status_icon(status: str, label: str = "", decorative: bool = False):
    """A small icon for a check status or a gate state, named for screen readers unless the text beside
    it already says the same (`decorative`)."""
    shape = _ICONS.get(status, _ICONS["waiting"])
    css = status if status in _ICONS else "waiting"
    if decorative:
        return format_html(
            '<svg class="icon icon-{}" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" '
            'focusable="false">{}</svg>',
            css,
            mark_safe(shape),  # noqa: S308 - constant markup from _ICONS above
        )
    name = label or _STATUS_LABELS.get(status) or _STATE_LABELS.get(status, status)
    return format_html(
        '<svg class="icon icon-{}" viewBox="0 0 16 16" width="16" height="16" role="img" aria-label="{}">'
        "{}</svg>",
        css,
        name,
        mark_safe(shape),  # noqa: S308 - constant markup from _ICONS above
    )


@register.simple_tag
def gate_badge(state: str, big: bool = False):
    """The state of a gate run as a coloured pill with its icon: Queued, Running, Passed, Failed, Error."""
    css = state if state in _STATE_LABELS else "unknown"
    return format_html(
        '<span class="badge gate-{}{}">{} {}</span>',
        css,
        " big" if big else "",
        status_icon(state, decorative=True),
        _STATE_LABELS.get(state, state),
    )


@register.simple_tag
def check_badge(status: str):
    return format_html(
        '<span class="badge check-{}">{}</span>',
        status if status in _STATUS_LABELS else "unknown",
        _STATUS_LABELS.get(status, status),
    )


@register.filter
def check_title(name: str) -> str:
    return Check.TITLES.get(name, name.replace("_", " ").capitalize())


@register.filter
def duration(seconds) -> str:
    """1.4 s, 2 min 05 s, 1 h 02 min."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 0.1:
        return "under 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def pretty_json(data) -> str:
    """Indented JSON, keys in their stored order. Returned as text: the template escapes it."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


@register.filter
def stage_label_of(stage: str) -> str:
    return dict(Stage.choices).get(stage, stage)


@register.simple_tag
def revision_url(revision) -> str:
    return policy_page_url(revision)


@register.filter
def revision_label(revision) -> str:
    """r3 of fraud-scorer's policy, or r2 of the global default."""
    if revision.policy.model_id is None:
        return f"global default r{revision.number}"
    return f"r{revision.number}"


@register.simple_tag
def gate_run_url(run) -> str:
    return reverse("promotions:gate-run", args=[run.version.model.name, run.version.number, run.pk])


@register.filter
def verdict_label(verdict: str) -> str:
    return VERDICT_LABELS.get(verdict, verdict)


# --- The version page's gate panel ------------------------------------------------------------------------


@register.inclusion_tag("promotions/_version_gate_panel.html", takes_context=True)
def gate_panel(context, version):
    request = context.get("request")
    user = request.user if request is not None else context.get("user")
    return {
        "panel": version_gate_panel(user=user, version=version),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }


# --- What each check compared, as a person reads it --------------------------------------------------------


@dataclass
class Fact:
    label: str
    value: str
    css: str = ""


@dataclass
class Table:
    headers: list[tuple[str, bool]]  # (text, numeric)
    rows: list[list[tuple[str, str]]]  # cells: (html, css)
    row_css: list[str] = field(default_factory=list)
    caption: str = ""

    @property
    def lines(self) -> list[dict]:
        css = self.row_css + [""] * (len(self.rows) - len(self.row_css))
        return [{"cells": cells, "css": line_css} for cells, line_css in zip(self.rows, css, strict=True)]


@dataclass
class CheckNumbers:
    facts: list[Fact] = field(default_factory=list)
    table: Table | None = None
    meter: dict | None = None
    link: tuple[str, str] | None = None

    @property
    def empty(self) -> bool:
        return not (self.facts or self.table or self.meter)


def _names(items, labels: dict | None = None) -> str:
    if not items:
        return "none"
    return ", ".join(str((labels or {}).get(item, item)) for item in items)


def _holds(holds: bool, measured) -> tuple[str, str]:
    if measured is None:
        return format_html('<span class="verdict worse">{}</span>', "✗ not reported"), ""
    if holds:
        return format_html('<span class="verdict better">{}</span>', "✓ meets"), ""
    return format_html('<span class="verdict worse">{}</span>', "✗ misses"), ""


def _num(value) -> tuple[str, str]:
    return (
        (metric(value), "num") if value is not None else (format_html('<span class="faint">—</span>'), "num")
    )


def _generic(numbers: dict) -> CheckNumbers:
    facts = []
    for key, value in numbers.items():
        if isinstance(value, list | dict):
            text = json.dumps(value, ensure_ascii=False, default=str) if value else "none"
        elif isinstance(value, float):
            text = metric(value)
        else:
            text = "—" if value is None else str(value)
        facts.append(Fact(key.replace("_", " ").capitalize(), text))
    return CheckNumbers(facts=facts)


def _artifacts(n: dict) -> CheckNumbers:
    bad = "worse"
    facts = [
        Fact("Artifacts", str(n.get("artifacts", "—"))),
        Fact("Required kinds", _names(n.get("required_kinds"), _KIND_LABELS)),
        Fact(
            "Missing kinds",
            _names(n.get("missing_kinds"), _KIND_LABELS),
            bad if n.get("missing_kinds") else "",
        ),
        Fact("Without a digest", _names(n.get("without_digest")), bad if n.get("without_digest") else ""),
        Fact("Verified against stored files", str(n.get("verified", 0))),
    ]
    if n.get("digest_mismatch"):
        facts.append(Fact("Stored file differs from its digest", _names(n["digest_mismatch"]), bad))
    if n.get("missing_files"):
        facts.append(Fact("Stored file missing", _names(n["missing_files"]), bad))
    return CheckNumbers(facts=facts)


def _metric_bars(n: dict) -> CheckNumbers:
    bars = n.get("bars") or []
    if not bars:
        return CheckNumbers(facts=[Fact("Metric bars", "none set by the policy")])
    rows, css = [], []
    for bar in bars:
        rows.append(
            [
                (format_html('<span class="mono">{}</span>', bar.get("metric")), ""),
                (format_html("{} {}", bar.get("op"), metric(bar.get("bar"))), "num"),
                _num(bar.get("value")),
                _holds(bool(bar.get("holds")), bar.get("value")),
            ]
        )
        css.append("" if bar.get("holds") else "regression")
    return CheckNumbers(
        table=Table(
            headers=[("Metric", False), ("Bar", True), ("Candidate", True), ("Verdict", False)],
            rows=rows,
            row_css=css,
        )
    )


def _baseline(n: dict) -> CheckNumbers:
    rules = n.get("rules") or []
    facts = [Fact("Compared with", n.get("baseline") or "nothing in production")]
    if not rules:
        return CheckNumbers(facts=facts)
    rows, css = [], []
    for rule in rules:
        direction = rule.get("direction")
        name = format_html(
            '<span class="mono">{}</span>{}',
            rule.get("metric"),
            format_html(' <span class="faint small">{}</span>', "↑" if direction == "higher" else "↓")
            if direction
            else "",
        )
        allowed = rule.get("allowed")
        rows.append(
            [
                (name, ""),
                _num(rule.get("value")),
                _num(rule.get("baseline")),
                (signed(rule.get("worse_by")) if rule.get("worse_by") is not None else "—", "num"),
                (
                    (metric(allowed) + (" (relative)" if rule.get("relative") else ""))
                    if allowed is not None
                    else "—",
                    "num",
                ),
                _holds(
                    bool(rule.get("holds")), rule.get("value") if rule.get("baseline") is not None else None
                ),
            ]
        )
        css.append("" if rule.get("holds") else "regression")
    return CheckNumbers(
        facts=facts,
        table=Table(
            headers=[
                ("Metric", False),
                ("Candidate", True),
                ("Production", True),
                ("Worse by", True),
                ("Allowed", True),
                ("Verdict", False),
            ],
            rows=rows,
            row_css=css,
        ),
    )


def _slices(n: dict, link: str) -> CheckNumbers:
    rows = n.get("rows") or []
    if "judged" not in n:
        return CheckNumbers(facts=[Fact("Slices compared", "none")])
    relative = n.get("relative")
    allowed = metric(n.get("max_worsening"))
    facts = [
        Fact("Compared with", n.get("baseline") or "—"),
        Fact("Judged", str(n.get("judged", 0))),
        Fact("Regressed", str(n.get("regressed", 0)), "worse" if n.get("regressed") else ""),
        Fact(f"Below {n.get('min_samples')} samples, not judged", str(n.get("too_few_samples", 0))),
        Fact("Allowed worsening", f"{allowed} of production's value" if relative else f"{allowed}"),
    ]
    if n.get("missing_listed"):
        facts.append(Fact("Listed slices not reported", _names(n["missing_listed"]), "worse"))
    regressed = [row for row in rows if row.get("verdict") == "regressed"][:5]
    table = None
    if regressed:
        table = Table(
            headers=[
                ("Slice", False),
                ("Metric", False),
                ("Candidate", True),
                ("Production", True),
                ("Delta", True),
                ("Allowed", True),
                ("Samples", True),
            ],
            rows=[
                [
                    (format_html('<span class="mono">{}</span>', row.get("slice")), ""),
                    (format_html('<span class="mono">{}</span>', row.get("metric")), ""),
                    _num(row.get("value")),
                    _num(row.get("baseline")),
                    (signed(row.get("delta")), "num worse"),
                    _num(row.get("allowed")),
                    (f"{row.get('samples', 0):,}", "num"),
                ]
                for row in regressed
            ],
            row_css=["regression"] * len(regressed),
            caption=(
                f"The {len(regressed)} worst regressions"
                if n.get("regressed", 0) > len(regressed)
                else "Regressions"
            ),
        )
    return CheckNumbers(
        facts=facts, table=table, link=(link, f"All {len(rows)} slice results, with the chart")
    )


def _budget(measured, budget, unit: str, what: str) -> CheckNumbers:
    facts = [
        Fact(
            what,
            f"{metric(measured)} {unit}".strip() if measured is not None else "not measured",
            "" if measured is not None else "worse",
        ),
        Fact(
            "Budget", f"{metric(budget)} {unit}".strip() if budget is not None else "none set by the policy"
        ),
    ]
    meter = None
    if measured is not None and budget:
        facts.append(
            Fact("Of the budget", f"{measured / budget * 100:.0f}%", "worse" if measured > budget else "")
        )
        meter = {"value": measured, "max": max(budget, measured), "high": budget * 0.9, "optimum": 0}
    return CheckNumbers(facts=facts, meter=meter)


def _card_sections(n: dict) -> CheckNumbers:
    return CheckNumbers(
        facts=[
            Fact("Required", _names(n.get("required"), _SECTION_LABELS)),
            Fact(
                "Missing or empty",
                _names(n.get("missing"), _SECTION_LABELS),
                "worse" if n.get("missing") else "",
            ),
        ]
    )


def check_numbers_of(result, slices_url: str = "") -> CheckNumbers:
    n = result.numbers if isinstance(result.numbers, dict) else {}
    if not n:
        return CheckNumbers()
    try:
        name = result.check_name
        if name == Check.SOURCE_RUN:
            return CheckNumbers(facts=[Fact("Run", n.get("run") or "none")])
        if name == Check.ARTIFACTS:
            return _artifacts(n)
        if name == Check.EVALUATION:
            return CheckNumbers(
                facts=[
                    Fact("Dataset", n.get("dataset") or "—"),
                    Fact("Overall metrics", str(n.get("metrics", "—"))),
                    Fact("Slice results", str(n.get("slices", "—"))),
                ]
            )
        if name == Check.METRIC_BARS:
            return _metric_bars(n)
        if name == Check.BASELINE:
            return _baseline(n)
        if name == Check.SLICES:
            return _slices(n, slices_url)
        if name == Check.LATENCY:
            return _budget(n.get("p95_ms"), n.get("budget_ms"), "ms", "p95 latency")
        if name == Check.COST:
            return _budget(n.get("cost_per_1k"), n.get("budget"), "", "Cost per 1,000 predictions")
        if name == Check.CARD_SECTIONS:
            return _card_sections(n)
        if name == Check.OWNER:
            return CheckNumbers(facts=[Fact("Owner", n.get("owner") or "no active owner")])
        if name == Check.ROLLBACK_TARGET:
            return CheckNumbers(facts=[Fact("Rollback target", n.get("target") or "none")])
    except (TypeError, ValueError, AttributeError, KeyError):
        # Numbers recorded in another shape (an older gate): show them as they are rather than fail.
        pass
    return _generic(n)


@register.inclusion_tag("promotions/_check_numbers.html")
def check_numbers(result, slices_url: str = ""):
    return {"numbers": check_numbers_of(result, slices_url), "result": result}


# --- The chart of slice deltas ----------------------------------------------------------------------------

CHART_WIDTH = 1100
LABEL_WIDTH = 260
VALUE_WIDTH = 92
ROW_HEIGHT = 22
TOP = 34
BOTTOM = 30
MAX_CHART_ROWS = 40


@dataclass(frozen=True)
class DeltaRow:
    label: str
    y: float
    text_y: float
    bar_x: float
    bar_width: float
    bar_y: float
    threshold_x: float | None
    threshold_top: float
    threshold_bottom: float
    verdict: str
    row: dict


@dataclass(frozen=True)
class DeltaPanel:
    metric: str
    direction: str
    rows: list[DeltaRow]
    ticks: list[tuple[float, str]]
    zero_x: float
    total: int
    cut: int  # compared slices beyond the rows drawn
    uncompared: int  # slices without a production value: nothing to draw
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    label_x: float
    value_x: float
    axis_y: float
    left_hint: str
    right_hint: str


def _threshold(row: dict) -> float | None:
    """The delta at which the slice would count as regressed: −allowed when higher is better."""
    allowed = row.get("allowed")
    if allowed is None:
        return None
    return -allowed if row.get("direction", "higher") == "higher" else allowed


def delta_chart_panels(rows: list[dict], *, max_rows: int = MAX_CHART_ROWS) -> list[DeltaPanel]:
    """One panel per metric: each compared slice a bar from zero to its delta (candidate − production),
    coloured by the gate's verdict, with a tick where the allowed worsening ends. Rows keep the gate's
    order (regressions first, worst first), so the top of each panel is what a reviewer must read."""
    by_metric: dict[str, list[dict]] = {}
    for row in rows:
        by_metric.setdefault(str(row.get("metric")), []).append(row)
    panels = []
    plot_left, plot_right = LABEL_WIDTH, CHART_WIDTH - VALUE_WIDTH
    for metric_name, metric_rows in by_metric.items():
        compared = [row for row in metric_rows if isinstance(row.get("delta"), int | float)]
        drawn = compared[:max_rows]
        if not drawn:
            continue
        points = [0.0] + [row["delta"] for row in drawn]
        points += [t for t in (_threshold(row) for row in drawn) if t is not None]
        points = [p for p in points if math.isfinite(p)]
        low, high = min(points), max(points)
        span = high - low
        pad = span * 0.08 if span else (abs(high) * 0.1 or 0.01)
        low, high = low - pad, high + pad
        x = _scale(low, high, plot_left, plot_right)
        zero_x = x(0.0)
        chart_rows = []
        for index, row in enumerate(drawn):
            y = TOP + index * ROW_HEIGHT + ROW_HEIGHT / 2
            end = x(row["delta"])
            threshold = _threshold(row)
            chart_rows.append(
                DeltaRow(
                    label=str(row.get("slice")),
                    y=y,
                    text_y=y + 4,
                    bar_x=min(zero_x, end),
                    bar_width=max(abs(end - zero_x), 1.5),
                    bar_y=y - 6,
                    threshold_x=x(threshold) if threshold is not None else None,
                    threshold_top=y - 9,
                    threshold_bottom=y + 9,
                    verdict=str(row.get("verdict")),
                    row=row,
                )
            )
        plot_bottom = TOP + len(drawn) * ROW_HEIGHT
        direction = str(drawn[0].get("direction") or "higher")
        better, worse = "better →", "← worse"
        left_hint, right_hint = (worse, better) if direction == "higher" else ("← better", "worse →")
        panels.append(
            DeltaPanel(
                metric=metric_name,
                direction=direction,
                rows=chart_rows,
                ticks=[(x(t), signed(t)) for t in _nice_ticks(low, high) if low <= t <= high],
                zero_x=zero_x,
                total=len(metric_rows),
                cut=len(compared) - len(drawn),
                uncompared=len(metric_rows) - len(compared),
                height=plot_bottom + BOTTOM,
                plot_left=plot_left,
                plot_right=plot_right,
                plot_top=TOP - 10,
                plot_bottom=plot_bottom,
                label_x=plot_left - 10,
                value_x=CHART_WIDTH - 4,
                axis_y=plot_bottom + 16,
                left_hint=left_hint,
                right_hint=right_hint,
            )
        )
    return panels


@register.inclusion_tag("promotions/_delta_chart.html")
def delta_chart(view, baseline_label: str = ""):
    return {
        "panels": delta_chart_panels(view.all_rows),
        "width": CHART_WIDTH,
        "max_rows": MAX_CHART_ROWS,
        "baseline_label": baseline_label,
    }


# --- Sortable table headers -------------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def sort_header(context, view, column: str, label: str, numeric: bool = False):
    """A column header that sorts the table by `column` (server-side, a plain link), toggling direction."""
    request = context["request"]
    active = view.sort == column
    descending = not view.descending if active else column in ("worse_by", "samples")
    query = request.GET.copy()
    query["sort"] = f"-{column}" if descending else column
    aria = ("descending" if view.descending else "ascending") if active else "none"
    arrow = ("▼" if view.descending else "▲") if active else "↕"
    return format_html(
        '<th scope="col" class="{}" aria-sort="{}"><a class="sort{}" href="?{}#table">{} <span '
        'class="arrow" aria-hidden="true">{}</span></a></th>',
        "num" if numeric else "",
        aria,
        " active" if active else "",
        query.urlencode(),
        label,
        arrow,
    )


@register.simple_tag(takes_context=True)
def verdict_filter_url(context, verdict: str) -> str:
    query = context["request"].GET.copy()
    if verdict:
        query["verdict"] = verdict
    else:
        query.pop("verdict", None)
    return f"?{query.urlencode()}#table" if query else "?#table"


# --- A policy's rules, in words ---------------------------------------------------------------------------


def _bars(section: SectionRules) -> list[str]:
    ops = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
    return [
        format_html('<span class="mono">{}</span> {} {}', b.metric, ops[b.op], metric(b.value))
        for b in section.metric_bars
    ]


def _tolerance(value: float, relative: bool) -> str:
    if relative:
        return f"{value * 100:.4g}% of production's value"
    return metric(value)


def _baselines(section: SectionRules) -> list[str]:
    lines = []
    for rule in section.baseline:
        way = {"higher": ", higher is better", "lower": ", lower is better"}.get(rule.direction or "", "")
        if rule.tolerance == 0:
            text = format_html('<span class="mono">{}</span> no worse than production{}', rule.metric, way)
        else:
            text = format_html(
                '<span class="mono">{}</span> at most {} worse{}',
                rule.metric,
                _tolerance(rule.tolerance, rule.relative),
                way,
            )
        lines.append(text)
    return lines


def _slice_rule(section: SectionRules) -> list[str]:
    rule = section.slices
    if rule is None:
        return []
    which = (
        "Every slice production also reports"
        if rule.scope == "all"
        else format_html(
            "Only {}", format_html_join(", ", '<span class="mono">{}</span>', ((key,) for key in rule.slices))
        )
    )
    metrics = (
        format_html(
            "on {}", format_html_join(", ", '<span class="mono">{}</span>', ((m,) for m in rule.metrics))
        )
        if rule.metrics
        else "on every metric"
    )
    worsening = (
        "may not worsen at all"
        if rule.max_worsening == 0
        else f"may worsen by at most {_tolerance(rule.max_worsening, rule.relative)}"
    )
    return [
        format_html("{}, {}", which, metrics),
        worsening.capitalize(),
        f"Judged only with at least {rule.min_samples:,} samples",
    ]


def _signoffs(section: SectionRules) -> list[str]:
    count, roles = section.signoffs.count, section.signoffs.roles
    if not count or not roles:
        return []
    if count == 1:
        article = "an" if roles[0][:1] in "aeiou" else "a"
        return [f"1 from {article} {' or '.join(roles)}"]
    return [f"{count} from distinct {' or '.join(f'{role}s' for role in roles)}"]


@dataclass(frozen=True)
class RuleRow:
    label: str
    anchor: str
    cells: list[list[str]]  # per section: lines; empty means "none"
    none_text: str = "none"
    inline: bool = False  # short items, shown side by side


def policy_rule_rows(rules: PolicyRules) -> list[RuleRow]:
    sections = [rules.draft_to_staging, rules.staging_to_production]

    def row(label: str, anchor: str, lines, none_text: str = "none", inline: bool = False) -> RuleRow:
        return RuleRow(label, anchor, [lines(section) for section in sections], none_text, inline)

    return [
        row(
            "Required checks",
            "required_checks",
            lambda s: [Check.TITLES.get(name, name) for name in Check.ALL if name in s.required_checks],
            "none: every check is advisory",
            inline=True,
        ),
        row(
            "Required artifact kinds",
            "required_artifact_kinds",
            lambda s: [_KIND_LABELS.get(kind, kind) for kind in s.required_artifact_kinds],
            inline=True,
        ),
        row("Metric bars", "metric_bars", _bars),
        row("Against production", "baseline", _baselines, "no rules"),
        row("Slices against production", "slices", _slice_rule, "not checked"),
        row(
            "p95 latency budget",
            "latency_p95_ms_max",
            lambda s: (
                [f"at most {metric(s.latency_p95_ms_max)} ms"] if s.latency_p95_ms_max is not None else []
            ),
            "no budget",
        ),
        row(
            "Cost budget per 1,000 predictions",
            "cost_per_1k_max",
            lambda s: [f"at most {metric(s.cost_per_1k_max)}"] if s.cost_per_1k_max is not None else [],
            "no budget",
        ),
        row(
            "Required card sections",
            "required_card_sections",
            lambda s: [_SECTION_LABELS.get(name, name) for name in s.required_card_sections],
            inline=True,
        ),
        row("Sign-offs", "signoffs", _signoffs, "none required"),
        RuleRow(
            "First production version",
            "allow_first_production",
            [
                ["not applicable to this move"],
                [
                    "allowed without a rollback target"
                    if rules.staging_to_production.allow_first_production
                    else "needs a version in production to roll back to"
                ],
            ],
        ),
    ]


@register.simple_tag
def policy_rules(rules: PolicyRules):
    return policy_rule_rows(rules)


@register.filter
def policy_warning(text: str) -> str:
    """A warning from policy_warnings, with its section named as the page names it."""
    for name, title in SECTION_TITLES.items():
        if text.startswith(f"{name}: "):
            return f"{title}: {text.removeprefix(f'{name}: ')}"
    return text
