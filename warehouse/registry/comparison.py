"""The production version beside another, figure by figure: its rollback target on the alert link (what a
responder gains and gives up by rolling back), a candidate on its promotion request (what a reviewer
approves). Pure functions of evidence the page already read (no query).

Which way is better for a metric is decided as the gates decide it (promotions/gates/comparison.py), minus
the policy: the metrics whose direction everyone agrees on first, then production's declared direction, then
the other version's. Latency and cost are always lower-is-better.
"""

from dataclasses import dataclass

from warehouse.registry.evidence import KNOWN_DIRECTIONS
from warehouse.registry.models import MetricDirection

# Differences smaller than this are rounding noise, neither better nor worse.
COMPARISON_TOLERANCE = 1e-12

PRODUCTION = "production"
OTHER = "other"
SAME = "same"


@dataclass(frozen=True)
class SideBySide:
    """One figure of the production version beside the other version's."""

    name: str
    production: float | None
    other: float | None
    direction: str  # MetricDirection's "higher" or "lower"
    unit: str = ""

    @property
    def delta(self) -> float | None:
        """Production minus the other, in the figure's own units; None when either is missing."""
        if self.production is None or self.other is None:
            return None
        return self.production - self.other

    @property
    def change(self) -> float | None:
        """The other minus production: how the other version moves the figure."""
        delta = self.delta
        return -delta if delta is not None else None

    @property
    def better(self) -> str:
        """Which of the two is better ("production", "other" or "same"), or "" when one is missing."""
        return {"better": OTHER, "worse": PRODUCTION, "same": SAME}.get(
            change_verdict(self.change, self.direction), ""
        )


def metric_direction(name: str, *declared) -> str:
    """Which way is better for the metric `name`: where everyone agrees (auc up, log_loss down), that way;
    else as the first of the `declared` EvaluationMetric rows (None for a side without it) says."""
    known = KNOWN_DIRECTIONS.get(name.lower())
    if known is not None:
        return str(known)
    return next((str(metric.direction) for metric in declared if metric is not None), "")


def change_verdict(change: float | None, direction: str) -> str:
    """How a change reads for a figure whose better way is `direction`: "better", "worse", "same" (within
    COMPARISON_TOLERANCE), or "" when a side is missing or nobody said which way is better."""
    if change is None or direction not in MetricDirection.values:
        return ""
    if abs(change) <= COMPARISON_TOLERANCE:
        return SAME
    return "better" if (change > 0) == (direction == MetricDirection.HIGHER_IS_BETTER) else "worse"


def metrics_side_by_side(production: list, other: list) -> list[SideBySide]:
    """The overall metrics of both versions (EvaluationMetric rows), production's first in its order, then
    those only the other version has."""
    ours = {metric.name: metric for metric in production}
    theirs = {metric.name: metric for metric in other}
    names = list(ours) + [name for name in theirs if name not in ours]
    rows = []
    for name in names:
        mine, yours = ours.get(name), theirs.get(name)
        rows.append(
            SideBySide(
                name=name,
                production=mine.value if mine is not None else None,
                other=yours.value if yours is not None else None,
                direction=metric_direction(name, mine, yours),
            )
        )
    return rows


def _number(value) -> float | None:
    return float(value) if value is not None else None


def profiles_side_by_side(production, other) -> list[SideBySide]:
    """Latency p95 and p99 and cost per 1,000 predictions of two PerformanceProfiles (either may be None).
    Costs in different currencies are shown but not compared."""
    if production is None and other is None:
        return []
    lower = str(MetricDirection.LOWER_IS_BETTER)

    def figure(name: str) -> tuple[float | None, float | None]:
        return (
            _number(getattr(production, name, None)) if production is not None else None,
            _number(getattr(other, name, None)) if other is not None else None,
        )

    rows = [
        SideBySide("Latency p95", *figure("latency_p95_ms"), direction=lower, unit="ms"),
        SideBySide("Latency p99", *figure("latency_p99_ms"), direction=lower, unit="ms"),
    ]
    currencies = {profile.currency for profile in (production, other) if profile is not None}
    cost = figure("cost_per_1k_predictions")
    if cost != (None, None):
        same_money = len(currencies) == 1
        rows.append(
            SideBySide(
                "Cost per 1k predictions",
                *cost,
                direction=lower if same_money else "",
                unit=currencies.pop() if same_money else "",
            )
        )
    return rows
