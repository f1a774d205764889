"""A policy's rules in words, side by side for its two moves: the policy page's table."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join

from warehouse.cards.sections import Section
from warehouse.numbers import metric_text
from warehouse.promotions.policies.rules import (
    Check,
    MissingSlices,
    PolicyRules,
    SectionRules,
    checks_without_rule,
)
from warehouse.registry.models import ArtifactKind

_SECTION_LABELS = dict(Section.choices)
_KIND_LABELS = dict(ArtifactKind.choices)


def _bars(section: SectionRules) -> list[str]:
    ops = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
    return [
        format_html('<span class="mono">{}</span> {} {}', b.metric, ops[b.op], metric_text(b.value))
        for b in section.metric_bars
    ]


def _tolerance(value: float, relative: bool) -> str:
    if relative:
        return f"{value * 100:.4g}% of production's value"
    return metric_text(value)


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


def _required_checks(section: SectionRules) -> list[str]:
    unruled = checks_without_rule(section)
    return [
        Check.TITLES[name] + (" (no rule: not judged)" if name in unruled else "")
        for name in Check.ALL
        if name in section.required_checks
    ]


_MISSING_SLICES = {
    MissingSlices.FAIL: "fail the slices check",
    MissingSlices.WARN: "are a warning on the slices check",
}


def _missing_slices(section: SectionRules) -> list[str]:
    if section.slices is None:
        return []
    return [f"Slices production reports and the candidate does not {_MISSING_SLICES[section.missing_slices]}"]


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
            _required_checks,
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
        row("Missing slices", "missing_slices", _missing_slices, "not checked"),
        row(
            "p95 latency budget",
            "latency_p95_ms_max",
            lambda s: (
                [f"at most {metric_text(s.latency_p95_ms_max)} ms"]
                if s.latency_p95_ms_max is not None
                else []
            ),
            "no budget",
        ),
        row(
            "Cost budget per 1,000 predictions",
            "cost_per_1k_max",
            lambda s: [f"at most {metric_text(s.cost_per_1k_max)}"] if s.cost_per_1k_max is not None else [],
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


@dataclass(frozen=True)
class UnruledRequired:
    """Checks a move requires but sets no rule for: they report not_configured and guard nothing."""

    section: str  # the move's section name
    checks: list[str]  # their titles


def unruled_required(rules: PolicyRules) -> list[UnruledRequired]:
    found = []
    for name in ("draft_to_staging", "staging_to_production"):
        section: SectionRules = getattr(rules, name)
        unruled = [
            Check.TITLES[check] for check in checks_without_rule(section) if check in section.required_checks
        ]
        if unruled:
            found.append(UnruledRequired(name, unruled))
    return found


_MOVES = ("Draft → Staging", "Staging → Production")


@dataclass(frozen=True)
class RuleChange:
    """One rule of one move that differs between two revisions, in the words of the policy table."""

    label: str
    anchor: str
    move: str
    before: list[str]  # lines; empty means `none_text`
    after: list[str]
    none_text: str


def policy_changes(before: PolicyRules, after: PolicyRules) -> list[RuleChange]:
    """What `after` changes of `before`, rule by rule and move by move: the policy page's diff between a
    revision and the one before it. Empty when the two ask the same of both moves."""
    changes = []
    pairs = [(before.draft_to_staging, after.draft_to_staging)]
    pairs.append((before.staging_to_production, after.staging_to_production))
    for old, new in zip(policy_rule_rows(before), policy_rule_rows(after), strict=True):
        for move, (was, now), old_lines, new_lines in zip(_MOVES, pairs, old.cells, new.cells, strict=True):
            # Judged on the rule itself, each row's anchor being its field: a row's words also mention
            # other rules (a required check reads "no rule: not judged" until its budget is set).
            if getattr(was, new.anchor) != getattr(now, new.anchor):
                changes.append(RuleChange(new.label, new.anchor, move, old_lines, new_lines, new.none_text))
    return changes
