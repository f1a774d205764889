"""How a candidate compares with production: which way is better for a metric, how much worse the
candidate is, and every slice of either judged by the policy's slice rule. Plain functions of an
EvidenceSnapshot, as the checks are: the baseline and slices checks, and the slice view, rest on them."""

from warehouse.promotions.gates.snapshot import EvidenceSnapshot
from warehouse.promotions.policies.rules import SliceRule
from warehouse.registry.evidence import KNOWN_DIRECTIONS


def worsening(candidate: float, baseline: float, direction: str) -> float:
    """How much worse the candidate is than the baseline, in the metric's own units (negative: better)."""
    return baseline - candidate if direction == "higher" else candidate - baseline


def metric_direction(
    snapshot: EvidenceSnapshot, metric: str, override: str | None = None
) -> tuple[str, bool]:
    """Which way is better for `metric`, and whether the candidate claims the opposite of production.

    The candidate never decides alone: a version that declared its loss higher-is-better would otherwise
    pass itself. The policy's word comes first, then production's, then the metrics whose direction
    everyone agrees on, and only then the candidate's own.
    """
    candidate = snapshot.candidate.metrics.get(metric)
    baseline = snapshot.baseline.metrics.get(metric) if snapshot.baseline else None
    conflict = candidate is not None and baseline is not None and candidate.direction != baseline.direction
    if override:
        return override, conflict
    if baseline is not None:
        return baseline.direction, conflict
    known = KNOWN_DIRECTIONS.get(metric.lower())
    if known is not None:
        return str(known), conflict
    return (candidate.direction if candidate is not None else "higher"), conflict


# The verdicts of a slice that was compared with production under the rule.
JUDGED = ("regressed", "within", "improved")
# The order a report lists slices in: regressions and missing slices first.
_VERDICT_ORDER = {
    "regressed": 0,
    "missing": 1,
    "within": 2,
    "improved": 3,
    "too_few_samples": 4,
    "no_baseline": 5,
    "not_checked": 6,
}


def _slice_in_rule(rule: SliceRule | None, key: str, metric: str) -> bool:
    if rule is None:
        return False
    if rule.scope == "listed" and key not in rule.slices:
        return False
    return not rule.metrics or metric in rule.metrics


def _judge_slice(row: dict, rule: SliceRule | None, facts, base) -> None:
    """Set the row's verdict, and how much worse it is against how much is allowed when it was judged."""
    if not _slice_in_rule(rule, row["slice"], row["metric"]):
        row["verdict"] = "not_checked"
    elif facts is None:
        row["verdict"] = "missing"
    elif base is None:
        row["verdict"] = "no_baseline"
    elif row["samples"] < rule.min_samples:
        row["verdict"] = "too_few_samples"
    else:
        worse_by = worsening(facts.value, base.value, row["direction"])
        allowed = rule.max_worsening * abs(base.value) if rule.relative else rule.max_worsening
        row["worse_by"], row["allowed"] = worse_by, allowed
        row["verdict"] = (
            "regressed" if worse_by > allowed + 1e-12 else ("improved" if worse_by < 0 else "within")
        )


def _slice_row(snapshot: EvidenceSnapshot, key: str, metric: str) -> dict:
    facts = snapshot.candidate.slices.get((key, metric))
    base = snapshot.baseline.slices.get((key, metric)) if snapshot.baseline else None
    direction, _ = metric_direction(snapshot, metric)
    counts = [f.sample_count for f in (facts, base) if f is not None]
    row = {
        "slice": key,
        "metric": metric,
        "value": facts.value if facts else None,
        "samples": min(counts),
        "baseline": base.value if base else None,
        "direction": direction,
        "delta": facts.value - base.value if facts and base else None,
        "worse_by": None,
        "allowed": None,
    }
    _judge_slice(row, snapshot.rules.slices, facts, base)
    return row


def slice_comparison(snapshot: EvidenceSnapshot) -> list[dict]:
    """Every slice result of the candidate or of production, judged by the policy's slice rule.

    Each row: slice, metric, value, baseline, delta (candidate − baseline), worse_by, allowed, samples
    (the smaller sample count of the two: a slice is only as trustworthy as its thinner side), verdict:
    "regressed", "missing" (production reports it, the candidate dropped it), "within", "improved",
    "too_few_samples", "no_baseline", "not_checked". Regressions and missing slices first, worst first.
    """
    baseline_slices = snapshot.baseline.slices if snapshot.baseline else {}
    rows = [
        _slice_row(snapshot, key, metric)
        for key, metric in sorted(set(snapshot.candidate.slices) | set(baseline_slices))
    ]
    rows.sort(key=lambda r: (_VERDICT_ORDER[r["verdict"]], -(r["worse_by"] or 0), r["metric"], r["slice"]))
    return rows
