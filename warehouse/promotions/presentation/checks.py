"""What each check of a gate run compared, shaped as a person reads it: a few facts, a small table, a meter
against a budget. Built from the numbers the check recorded, never from a new read."""

import json
from dataclasses import dataclass, field

from django.utils.html import format_html

from warehouse.cards.sections import Section
from warehouse.numbers import metric_text, signed_text
from warehouse.promotions.gates.comparison import SliceVerdict, verdict_of
from warehouse.promotions.policies.rules import Check
from warehouse.registry.models import ArtifactKind

_SECTION_LABELS = dict(Section.choices)
_KIND_LABELS = dict(ArtifactKind.choices)


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
        (metric_text(value), "num")
        if value is not None
        else (format_html('<span class="faint">—</span>'), "num")
    )


def _generic(numbers: dict) -> CheckNumbers:
    facts = []
    for key, value in numbers.items():
        if isinstance(value, list | dict):
            text = json.dumps(value, ensure_ascii=False, default=str) if value else "none"
        elif isinstance(value, float):
            text = metric_text(value)
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
                (format_html("{} {}", bar.get("op"), metric_text(bar.get("bar"))), "num"),
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
                (signed_text(rule.get("worse_by")) if rule.get("worse_by") is not None else "—", "num"),
                (
                    (metric_text(allowed) + (" (relative)" if rule.get("relative") else ""))
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


def _count(n: dict, key: str, legacy: str = "") -> int:
    """A count the slices check recorded; runs recorded before the verdicts were renamed used `legacy`."""
    value = n.get(key, n.get(legacy, 0) if legacy else 0)
    return value if isinstance(value, int) else 0


_MISSING_MEANS = {"fail": "fail the check", "warn": "a warning"}


def _slices(n: dict, link: str) -> CheckNumbers:
    rows = [row | {"verdict": verdict_of(row)} for row in n.get("rows") or []]
    if "judged" not in n:
        return CheckNumbers(facts=[Fact("Slices compared", "none")])
    relative = n.get("relative")
    allowed = metric_text(n.get("max_worsening"))
    worse = _count(n, "worse", "regressed")
    missing = _count(n, "missing_from_candidate", "dropped")
    facts = [
        Fact("Compared with", n.get("baseline") or "—"),
        Fact("Compared", str(n.get("judged", 0))),
        Fact("Worse", str(worse), "worse" if worse else ""),
        Fact("Missing from the candidate", str(missing), "missing" if missing else ""),
        Fact("New in the candidate", str(_count(n, "new_in_candidate"))),
        Fact(f"Below {n.get('min_samples')} samples, not judged", str(n.get("too_few_samples", 0))),
        Fact("Allowed worsening", f"{allowed} of production's value" if relative else f"{allowed}"),
    ]
    if n.get("missing_slices") in _MISSING_MEANS:
        facts.append(Fact("Missing slices are", _MISSING_MEANS[n["missing_slices"]]))
    if n.get("missing_listed"):
        facts.append(Fact("Listed slices not judged", _names(n["missing_listed"]), "worse"))
    shown = [row for row in rows if row.get("verdict") == SliceVerdict.WORSE][:5]
    table = None
    if shown:
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
                    (signed_text(row.get("delta")), "num worse"),
                    _num(row.get("allowed")),
                    (f"{row.get('samples', 0):,}", "num"),
                ]
                for row in shown
            ],
            row_css=["regression"] * len(shown),
            caption=(
                f"The {len(shown)} worst of {worse} worse" if worse > len(shown) else "Worse than allowed"
            ),
        )
    return CheckNumbers(
        facts=facts, table=table, link=(link, f"All {len(rows)} slice results, with the chart")
    )


def _budget(measured, budget, unit: str, what: str) -> CheckNumbers:
    facts = [
        Fact(
            what,
            f"{metric_text(measured)} {unit}".strip() if measured is not None else "not measured",
            "" if measured is not None else "worse",
        ),
        Fact(
            "Budget",
            f"{metric_text(budget)} {unit}".strip() if budget is not None else "none set by the policy",
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


def _evaluation(n: dict) -> CheckNumbers:
    return CheckNumbers(
        facts=[
            Fact("Dataset", n.get("dataset") or "—"),
            Fact("Overall metrics", str(n.get("metrics", "—"))),
            Fact("Slice results", str(n.get("slices", "—"))),
        ]
    )


# How each check's numbers read; a check not listed (or numbers of another shape) reads as plain facts.
_READERS = {
    Check.SOURCE_RUN: lambda n, _: CheckNumbers(facts=[Fact("Run", n.get("run") or "none")]),
    Check.ARTIFACTS: lambda n, _: _artifacts(n),
    Check.EVALUATION: lambda n, _: _evaluation(n),
    Check.METRIC_BARS: lambda n, _: _metric_bars(n),
    Check.BASELINE: lambda n, _: _baseline(n),
    Check.SLICES: _slices,
    Check.LATENCY: lambda n, _: _budget(n.get("p95_ms"), n.get("budget_ms"), "ms", "p95 latency"),
    Check.COST: lambda n, _: _budget(n.get("cost_per_1k"), n.get("budget"), "", "Cost per 1,000 predictions"),
    Check.CARD_SECTIONS: lambda n, _: _card_sections(n),
    Check.OWNER: lambda n, _: CheckNumbers(facts=[Fact("Owner", n.get("owner") or "no active owner")]),
    Check.ROLLBACK_TARGET: lambda n, _: CheckNumbers(
        facts=[Fact("Rollback target", n.get("target") or "none")]
    ),
}


def check_numbers_of(result, slices_url: str = "") -> CheckNumbers:
    """The numbers `result` recorded, as its check reads them; `slices_url` is where all slices are shown."""
    n = result.numbers if isinstance(result.numbers, dict) else {}
    if not n:
        return CheckNumbers()
    reader = _READERS.get(result.check_name)
    if reader is not None:
        try:
            return reader(n, slices_url)
        except (TypeError, ValueError, AttributeError, KeyError):
            # Numbers recorded in another shape (an older gate): show them as they are rather than fail.
            pass
    return _generic(n)


@dataclass(frozen=True)
class CheckReport:
    """One check of the gate report: its result and its numbers in words."""

    result: object  # a CheckResult
    numbers: CheckNumbers


def check_reports(*, results, slices_url: str) -> list[CheckReport]:
    """The gate report's checks, in the order given, each with what it compared."""
    return [CheckReport(result, check_numbers_of(result, slices_url)) for result in results]
