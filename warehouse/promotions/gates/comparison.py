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


class SliceVerdict:
    """What the gate says of one slice result against production. Missing is never worse: a slice the
    candidate did not report was not measured, and the policy says what that costs (`missing_slices`)."""

    WORSE = "worse"  # worse than production beyond what the rule allows
    WITHIN_TOLERANCE = "within_tolerance"  # no better, but within what the rule allows
    BETTER = "better"
    MISSING_FROM_CANDIDATE = "missing_from_candidate"  # production reports it, the candidate does not
    NEW_IN_CANDIDATE = "new_in_candidate"  # the candidate reports it, production does not
    TOO_FEW_SAMPLES = "too_few_samples"  # reported by both, too thin to judge
    NOT_CHECKED = "not_checked"  # outside the rule's slices or metrics

    # In the order a report lists them: what is worse first, then what is missing.
    ALL = (
        WORSE,
        MISSING_FROM_CANDIDATE,
        WITHIN_TOLERANCE,
        BETTER,
        TOO_FEW_SAMPLES,
        NEW_IN_CANDIDATE,
        NOT_CHECKED,
    )
    # Gate runs recorded before the verdicts had these names.
    LEGACY = {
        "regressed": WORSE,
        "within": WITHIN_TOLERANCE,
        "improved": BETTER,
        "missing": MISSING_FROM_CANDIDATE,
        "no_baseline": NEW_IN_CANDIDATE,
    }


# The verdicts of a slice that was compared with production under the rule.
JUDGED = (SliceVerdict.WORSE, SliceVerdict.WITHIN_TOLERANCE, SliceVerdict.BETTER)
_VERDICT_ORDER = {verdict: index for index, verdict in enumerate(SliceVerdict.ALL)}


def verdict_of(row: dict) -> str:
    """A recorded row's verdict by today's name, whatever the name it was recorded with."""
    verdict = row.get("verdict")
    return SliceVerdict.LEGACY.get(verdict, verdict)


def _slice_in_rule(rule: SliceRule | None, key: str, metric: str) -> bool:
    if rule is None:
        return False
    if rule.scope == "listed" and key not in rule.slices:
        return False
    return not rule.metrics or metric in rule.metrics


def _judge_slice(row: dict, rule: SliceRule | None, facts, base) -> None:
    """Set the row's verdict, and how much worse it is against how much is allowed when it was judged."""
    if not _slice_in_rule(rule, row["slice"], row["metric"]):
        row["verdict"] = SliceVerdict.NOT_CHECKED
    elif facts is None:
        row["verdict"] = SliceVerdict.MISSING_FROM_CANDIDATE
    elif base is None:
        row["verdict"] = SliceVerdict.NEW_IN_CANDIDATE
    elif row["samples"] < rule.min_samples:
        row["verdict"] = SliceVerdict.TOO_FEW_SAMPLES
    else:
        worse_by = worsening(facts.value, base.value, row["direction"])
        allowed = rule.max_worsening * abs(base.value) if rule.relative else rule.max_worsening
        row["worse_by"], row["allowed"] = worse_by, allowed
        if worse_by > allowed + 1e-12:
            row["verdict"] = SliceVerdict.WORSE
        elif worse_by < -1e-12:
            row["verdict"] = SliceVerdict.BETTER
        else:
            row["verdict"] = SliceVerdict.WITHIN_TOLERANCE


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
    (the smaller sample count of the two: a slice is only as trustworthy as its thinner side), verdict
    (one of SliceVerdict.ALL). Worse slices first, worst first, then those missing from the candidate.
    """
    baseline_slices = snapshot.baseline.slices if snapshot.baseline else {}
    rows = [
        _slice_row(snapshot, key, metric)
        for key, metric in sorted(set(snapshot.candidate.slices) | set(baseline_slices))
    ]
    rows.sort(key=lambda r: (_VERDICT_ORDER[r["verdict"]], -(r["worse_by"] or 0), r["metric"], r["slice"]))
    return rows
