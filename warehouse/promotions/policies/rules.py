"""Promotion policy rules: what a review board asks before a version moves up, as data.

A policy revision holds one section per upward move. `policy_parse` reads rules from plain data (a form
turned into JSON, or an API body) and either returns frozen rules or raises InvalidInput naming each bad
field by its path (`staging_to_production.metric_bars[0].op`). It touches no database. Names that the
rules mention but no evidence has (an unknown metric or slice) are not errors: `policy_warnings` lists
them for the page, because a policy is often written before the first version that reports them.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from warehouse.cards.sections import Section
from warehouse.errors import InvalidInput
from warehouse.promotions.models import PolicyRevision
from warehouse.registry.evidence import METRIC_NAME, SLICE_KEY
from warehouse.registry.models import ArtifactKind, Stage


class Check:
    """The gate's checks, by the name policies use for them, in the order a report lists them."""

    SOURCE_RUN = "source_run"
    ARTIFACTS = "artifacts"
    EVALUATION = "evaluation"
    METRIC_BARS = "metric_bars"
    BASELINE = "baseline"
    SLICES = "slices"
    LATENCY = "latency"
    COST = "cost"
    CARD_SECTIONS = "card_sections"
    OWNER = "owner"
    ROLLBACK_TARGET = "rollback_target"

    ALL = (
        SOURCE_RUN,
        ARTIFACTS,
        EVALUATION,
        METRIC_BARS,
        BASELINE,
        SLICES,
        LATENCY,
        COST,
        CARD_SECTIONS,
        OWNER,
        ROLLBACK_TARGET,
    )
    TITLES = {
        SOURCE_RUN: "Tracked source run",
        ARTIFACTS: "Artifacts complete",
        EVALUATION: "Evaluation report attached",
        METRIC_BARS: "Metric bars",
        BASELINE: "Against production",
        SLICES: "Slice regressions",
        LATENCY: "Latency budget",
        COST: "Cost budget",
        CARD_SECTIONS: "Card sections",
        OWNER: "Owner assigned",
        ROLLBACK_TARGET: "Rollback target exists",
    }


# The two moves a gate guards, by the name a policy gives their section.
TRANSITIONS: dict[str, tuple[Stage, Stage]] = {
    "draft_to_staging": (Stage.DRAFT, Stage.STAGING),
    "staging_to_production": (Stage.STAGING, Stage.PRODUCTION),
}
SECTION_FOR_TARGET = {target: name for name, (_, target) in TRANSITIONS.items()}
# The stage a gate guards the move to, from each stage below another.
NEXT_STAGE = {source: target for source, target in TRANSITIONS.values()}
OPERATORS = (">=", ">", "<=", "<")
SIGNOFF_ROLES = ("reviewer", "approver")


class MissingSlices:
    """What a slice that production reports and the candidate does not means for a move: the slices check
    fails, or it warns. Missing is never worse: it is its own verdict, and the policy says what it costs."""

    FAIL = "fail"
    WARN = "warn"
    ALL = (FAIL, WARN)


# A revision written before the policy said what missing slices mean reads as the gate judged them then:
# a warning on the way to Staging, a failure on the way to Production.
MISSING_SLICES_DEFAULT = {"draft_to_staging": MissingSlices.WARN, "staging_to_production": MissingSlices.FAIL}


@dataclass(frozen=True)
class MetricBar:
    metric: str
    op: str
    value: float

    def holds(self, measured: float) -> bool:
        return {
            ">=": measured >= self.value,
            ">": measured > self.value,
            "<=": measured <= self.value,
            "<": measured < self.value,
        }[self.op]


@dataclass(frozen=True)
class BaselineRule:
    """The candidate may be worse than production on `metric` by at most `tolerance` (a fraction of the
    production value when `relative`). `direction` None means: as the candidate's evaluation says."""

    metric: str
    tolerance: float = 0.0
    relative: bool = False
    direction: str | None = None


@dataclass(frozen=True)
class SliceRule:
    scope: str = "all"  # "all" slices the candidate and production share, or the "listed" ones
    slices: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()  # empty: every metric reported per slice
    max_worsening: float = 0.0
    relative: bool = False
    min_samples: int = 100


@dataclass(frozen=True)
class SignoffRule:
    count: int = 1
    roles: tuple[str, ...] = ("reviewer",)


@dataclass(frozen=True)
class SectionRules:
    required_checks: tuple[str, ...] = ()
    required_artifact_kinds: tuple[str, ...] = (ArtifactKind.WEIGHTS,)
    metric_bars: tuple[MetricBar, ...] = ()
    baseline: tuple[BaselineRule, ...] = ()
    slices: SliceRule | None = None
    latency_p95_ms_max: float | None = None
    cost_per_1k_max: float | None = None
    required_card_sections: tuple[str, ...] = ()
    signoffs: SignoffRule = field(default_factory=SignoffRule)
    allow_first_production: bool = False
    missing_slices: str = MissingSlices.WARN


@dataclass(frozen=True)
class PolicyRules:
    draft_to_staging: SectionRules
    staging_to_production: SectionRules

    def for_target(self, target: Stage | str) -> SectionRules:
        return getattr(self, SECTION_FOR_TARGET[Stage(target)])

    def as_data(self) -> dict:
        """Plain JSON-ready data: what a revision stores, and what policy_parse reads back unchanged."""
        return json_ready(asdict(self))


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


# What applies until a model has its own policy: every check required for Production, the essentials for
# Staging, one reviewer to Staging and one approver to Production.
DEFAULT_RULES = PolicyRules(
    draft_to_staging=SectionRules(
        required_checks=(Check.SOURCE_RUN, Check.ARTIFACTS, Check.EVALUATION, Check.OWNER),
        required_card_sections=(Section.TASK,),
        slices=SliceRule(max_worsening=0.02, min_samples=100),
        missing_slices=MissingSlices.WARN,
        signoffs=SignoffRule(count=1, roles=("reviewer",)),
    ),
    staging_to_production=SectionRules(
        required_checks=tuple(Check.ALL),
        slices=SliceRule(max_worsening=0.01, min_samples=100),
        missing_slices=MissingSlices.FAIL,
        required_card_sections=(Section.TASK, Section.KNOWN_FAILURES, Section.OWNERS_CONTACTS),
        signoffs=SignoffRule(count=1, roles=("approver",)),
        allow_first_production=True,
    ),
)


def checks_without_rule(section: SectionRules) -> tuple[str, ...]:
    """The checks that judge against a rule this section does not set: they report `not_configured`, which
    is neither a pass nor a failure, so a required one guards nothing."""
    unset = {
        Check.METRIC_BARS: not section.metric_bars,
        Check.BASELINE: not section.baseline,
        Check.SLICES: section.slices is None,
        Check.LATENCY: section.latency_p95_ms_max is None,
        Check.COST: section.cost_per_1k_max is None,
        Check.CARD_SECTIONS: not section.required_card_sections,
    }
    return tuple(name for name in Check.ALL if unset.get(name))


# --- Reading rules --------------------------------------------------------------------------------------


class _Reader:
    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def mapping(self, value: Any, path: str, allowed: Iterable[str]) -> Mapping:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, "Must be an object.")
            return {}
        for key in sorted(set(value) - set(allowed)):
            self.error(
                f"{path}.{key}" if path else str(key),
                f"Unknown field; expected one of: {', '.join(allowed)}.",
            )
        return value

    def items(self, value: Any, path: str, *, maximum: int = 200) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, "Must be a list.")
            return []
        if len(value) > maximum:
            self.error(path, f"At most {maximum} entries.")
            return []
        return value

    def number(
        self, value: Any, path: str, *, minimum: float | None = None, nullable: bool = False
    ) -> float | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, "Must be a finite number.")
            return None
        # A JSON integer may have hundreds of digits: compare it as an integer before making it a float,
        # which would overflow.
        if isinstance(value, float) and not math.isfinite(value):
            self.error(path, "Must be a finite number.")
            return None
        if abs(value) > 10**15:
            self.error(path, "Must be between -1e15 and 1e15.")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"Must be at least {minimum:g}.")
            return None
        return float(value)

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, "Must be true or false.")
            return default
        return value

    def choices(self, value: Any, path: str, allowed: Iterable[str], what: str) -> tuple[str, ...]:
        allowed = tuple(allowed)
        chosen = []
        for index, item in enumerate(self.items(value, path)):
            if item not in allowed:
                self.error(f"{path}[{index}]", f"Unknown {what} {item!r}; use one of: {', '.join(allowed)}.")
            elif item in chosen:
                self.error(f"{path}[{index}]", f"{item!r} appears twice.")
            else:
                chosen.append(item)
        return tuple(chosen)

    def metric_name(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not METRIC_NAME.match(value):
            self.error(path, "A metric name: start with a letter; letters, digits and _ . - / @ : only.")
            return ""
        return value


SECTION_FIELDS = (
    "required_checks",
    "required_artifact_kinds",
    "metric_bars",
    "baseline",
    "slices",
    "latency_p95_ms_max",
    "cost_per_1k_max",
    "required_card_sections",
    "signoffs",
    "allow_first_production",
    "missing_slices",
)


def _metric_bars(reader: _Reader, raw_bars: Any, path: str) -> tuple[MetricBar, ...]:
    bars = []
    for index, raw in enumerate(reader.items(raw_bars, path)):
        bar_path = f"{path}[{index}]"
        bar = reader.mapping(raw, bar_path, ("metric", "op", "value"))
        metric = reader.metric_name(bar.get("metric"), f"{bar_path}.metric")
        op = bar.get("op")
        if op not in OPERATORS:
            reader.error(f"{bar_path}.op", f"Use one of: {', '.join(OPERATORS)}.")
        number = reader.number(bar.get("value"), f"{bar_path}.value")
        if metric and op in OPERATORS and number is not None:
            bars.append(MetricBar(metric=metric, op=op, value=number))
    return tuple(bars)


def _baseline_rule(reader: _Reader, raw: Any, path: str, seen: set[str]) -> BaselineRule | None:
    rule = reader.mapping(raw, path, ("metric", "tolerance", "relative", "direction"))
    metric = reader.metric_name(rule.get("metric"), f"{path}.metric")
    if metric and metric in seen:
        reader.error(f"{path}.metric", f"{metric!r} has two baseline rules.")
    seen.add(metric)
    tolerance = reader.number(rule.get("tolerance", 0.0), f"{path}.tolerance", minimum=0)
    relative = reader.boolean(rule.get("relative"), f"{path}.relative", False)
    direction = rule.get("direction")
    if direction not in (None, "higher", "lower"):
        reader.error(f"{path}.direction", "Use 'higher' or 'lower', or leave it out to use the evaluation's.")
        direction = None
    if not metric or tolerance is None:
        return None
    return BaselineRule(metric=metric, tolerance=tolerance, relative=relative, direction=direction)


def _baseline_rules(reader: _Reader, raw_rules: Any, path: str) -> tuple[BaselineRule, ...]:
    seen: set[str] = set()
    rules = (
        _baseline_rule(reader, raw, f"{path}[{index}]", seen)
        for index, raw in enumerate(reader.items(raw_rules, path))
    )
    return tuple(rule for rule in rules if rule is not None)


def _listed_slices(reader: _Reader, raw_slices: Any, path: str) -> list[str]:
    listed = []
    for index, key in enumerate(reader.items(raw_slices, path, maximum=2000)):
        if not isinstance(key, str) or not SLICE_KEY.match(key):
            reader.error(f"{path}[{index}]", "Write a slice as key=value (region=EU,device=mobile).")
        else:
            listed.append(key)
    return listed


def _whole_number(value: Any, lowest: int, highest: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and lowest <= value <= highest


def _slice_rule(reader: _Reader, value: Any, path: str) -> SliceRule | None:
    if value is None:
        return None
    raw = reader.mapping(
        value, path, ("scope", "slices", "metrics", "max_worsening", "relative", "min_samples")
    )
    scope = raw.get("scope", "all")
    if scope not in ("all", "listed"):
        reader.error(f"{path}.scope", "Use 'all' (every slice) or 'listed' (the slices named below).")
    listed = _listed_slices(reader, raw.get("slices"), f"{path}.slices")
    if scope == "listed" and not listed:
        reader.error(f"{path}.slices", "Name at least one slice, or use scope 'all'.")
    metrics = [
        reader.metric_name(name, f"{path}.metrics[{index}]")
        for index, name in enumerate(reader.items(raw.get("metrics"), f"{path}.metrics"))
    ]
    max_worsening = reader.number(raw.get("max_worsening", 0.0), f"{path}.max_worsening", minimum=0)
    min_samples = raw.get("min_samples", 100)
    if not _whole_number(min_samples, 1, 10**9):
        reader.error(f"{path}.min_samples", "A whole number of samples, at least 1.")
        min_samples = 100
    return SliceRule(
        scope=scope if scope in ("all", "listed") else "all",
        slices=tuple(listed),
        metrics=tuple(name for name in metrics if name),
        max_worsening=max_worsening or 0.0,
        relative=reader.boolean(raw.get("relative"), f"{path}.relative", False),
        min_samples=min_samples,
    )


def _signoff_rule(reader: _Reader, value: Any, path: str) -> SignoffRule:
    data = reader.mapping(value, path, ("count", "roles"))
    count = data.get("count", 1)
    if not _whole_number(count, 0, 10):
        reader.error(f"{path}.count", "A whole number from 0 to 10.")
        count = 1
    roles = reader.choices(data.get("roles", ["reviewer"]), f"{path}.roles", SIGNOFF_ROLES, "role")
    if count and not roles:
        reader.error(f"{path}.roles", "Say which roles may sign off.")
    return SignoffRule(count=count, roles=roles)


def _missing_slices(reader: _Reader, value: Any, path: str) -> str:
    if value is None:
        return MISSING_SLICES_DEFAULT[path]
    if value not in MissingSlices.ALL:
        reader.error(
            f"{path}.missing_slices",
            "Use 'fail' (a slice production reports and the candidate does not fails the slices check) "
            "or 'warn' (it is a warning).",
        )
        return MISSING_SLICES_DEFAULT[path]
    return value


def _section(reader: _Reader, value: Any, path: str) -> SectionRules:
    data = reader.mapping(value, path, SECTION_FIELDS)
    # Read in this order, so that errors are listed as the fields appear in a policy.
    bars = _metric_bars(reader, data.get("metric_bars"), f"{path}.metric_bars")
    baseline = _baseline_rules(reader, data.get("baseline"), f"{path}.baseline")
    slices = _slice_rule(reader, data.get("slices"), f"{path}.slices")
    signoffs = _signoff_rule(reader, data.get("signoffs"), f"{path}.signoffs")
    return SectionRules(
        required_checks=reader.choices(
            data.get("required_checks"), f"{path}.required_checks", Check.ALL, "check"
        ),
        required_artifact_kinds=reader.choices(
            data.get("required_artifact_kinds", [ArtifactKind.WEIGHTS.value]),
            f"{path}.required_artifact_kinds",
            ArtifactKind.values,
            "artifact kind",
        ),
        metric_bars=bars,
        baseline=baseline,
        slices=slices,
        latency_p95_ms_max=reader.number(
            data.get("latency_p95_ms_max"), f"{path}.latency_p95_ms_max", minimum=0, nullable=True
        ),
        cost_per_1k_max=reader.number(
            data.get("cost_per_1k_max"), f"{path}.cost_per_1k_max", minimum=0, nullable=True
        ),
        required_card_sections=reader.choices(
            data.get("required_card_sections"),
            f"{path}.required_card_sections",
            Section.values,
            "card section",
        ),
        signoffs=signoffs,
        allow_first_production=reader.boolean(
            data.get("allow_first_production"), f"{path}.allow_first_production", False
        ),
        missing_slices=_missing_slices(reader, data.get("missing_slices"), path),
    )


def policy_parse(data: Any) -> PolicyRules:
    reader = _Reader()
    if not isinstance(data, Mapping):
        raise InvalidInput({"rules": ["The rules must be a JSON object with one section per move."]})
    top = reader.mapping(data, "", tuple(TRANSITIONS))
    for name in TRANSITIONS:
        if name not in top:
            reader.error(name, "This section is required (an empty object means: no extra rules).")
    rules = PolicyRules(
        draft_to_staging=_section(reader, top.get("draft_to_staging"), "draft_to_staging"),
        staging_to_production=_section(reader, top.get("staging_to_production"), "staging_to_production"),
    )
    if reader.errors:
        raise InvalidInput(reader.errors, "The policy has errors; no revision was saved.")
    return rules


def revision_rules(revision: PolicyRevision) -> PolicyRules:
    """The rules a stored revision holds (raises InvalidInput if they no longer parse)."""
    return policy_parse(revision.rules)


def revision_section(revision: PolicyRevision, target_stage: str) -> SectionRules | None:
    """The section of a stored revision for the move to `target_stage`; None if it no longer parses."""
    try:
        return policy_parse(revision.rules).for_target(target_stage)
    except (InvalidInput, KeyError, ValueError):
        return None


def policy_warnings(rules: PolicyRules, *, known_metrics: set[str], known_slices: set[str]) -> list[str]:
    """Names the rules use that no registered evidence of the model reports: likely typos, but allowed."""
    warnings = []
    for name in TRANSITIONS:
        section: SectionRules = getattr(rules, name)
        metrics = {bar.metric for bar in section.metric_bars} | {rule.metric for rule in section.baseline}
        if section.slices:
            metrics |= set(section.slices.metrics)
        for metric in sorted(metrics - known_metrics):
            warnings.append(f"{name}: no version reports a metric called {metric!r}.")
        if section.slices:
            for key in sorted(set(section.slices.slices) - known_slices):
                warnings.append(f"{name}: no version reports the slice {key!r}.")
    return warnings
