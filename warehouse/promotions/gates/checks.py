"""The gate's checks: one plain function each, from an EvidenceSnapshot to a CheckOutcome.

No database, no network, no clock: what a check may look at is in the snapshot, so a check's verdict can
be reproduced from what the gate run recorded. `checks_run` runs them all; a check that raises is an
`error` carrying the exception's message, never a pass.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from warehouse.cards.sections import Section
from warehouse.promotions.gates.comparison import (
    JUDGED,
    SliceVerdict,
    metric_direction,
    slice_comparison,
    worsening,
)
from warehouse.promotions.gates.snapshot import EvidenceSnapshot
from warehouse.promotions.models import CheckStatus
from warehouse.promotions.policies.rules import Check, MissingSlices, SliceRule
from warehouse.registry.models import Stage

Status = CheckStatus


@dataclass(frozen=True)
class CheckOutcome:
    status: str
    summary: str
    numbers: dict = field(default_factory=dict)


def _passed(summary: str, **numbers) -> CheckOutcome:
    return CheckOutcome(Status.PASSED, summary, numbers)


def _failed(summary: str, **numbers) -> CheckOutcome:
    return CheckOutcome(Status.FAILED, summary, numbers)


def _warning(summary: str, **numbers) -> CheckOutcome:
    return CheckOutcome(Status.WARNING, summary, numbers)


def _not_configured(summary: str, **numbers) -> CheckOutcome:
    """The policy sets no rule for the check: nothing was judged, so it is neither a pass nor a failure."""
    return CheckOutcome(Status.NOT_CONFIGURED, summary, numbers)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


# --- The checks -----------------------------------------------------------------------------------------


def _evidence_not_attached(snapshot: EvidenceSnapshot) -> CheckOutcome | None:
    """The failure of a check that reads evidence, for a version whose evidence is still pending."""
    missing = snapshot.candidate.evidence_missing
    return _failed(missing, evidence="pending", source=snapshot.candidate.source_uri) if missing else None


def check_source_run(snapshot: EvidenceSnapshot) -> CheckOutcome:
    if snapshot.candidate.has_source_run:
        return _passed(f"Tracked run {snapshot.candidate.source_run}.", run=snapshot.candidate.source_run)
    pending = _evidence_not_attached(snapshot)
    if pending is not None:
        return pending
    return _failed("No tracked source run: nobody can say how these weights were made.")


def _stored_file_checks(snapshot: EvidenceSnapshot) -> tuple[list[str], list[str], int]:
    """The artifacts whose stored file differs from their digest, those whose stored file is missing, and
    how many stored files matched their registered digest."""
    mismatched, absent, verified = [], [], 0
    for artifact in snapshot.candidate.artifacts:
        if artifact.uri not in snapshot.stored_digests:
            continue
        recomputed = snapshot.stored_digests[artifact.uri]
        if recomputed is None:
            absent.append(artifact.name)
        elif artifact.sha256 and recomputed != artifact.sha256:
            mismatched.append(artifact.name)
        elif artifact.sha256:
            # A stored file without a registered digest was compared with nothing: not verified.
            verified += 1
    return mismatched, absent, verified


_ARTIFACT_PROBLEMS = (
    ("missing_kinds", "no {} artifact"),
    ("without_digest", "no digest for {}"),
    ("digest_mismatch", "stored file differs from its digest: {}"),
    ("missing_files", "stored file missing: {}"),
    ("unreachable_files", "could not re-read {}"),
)


def check_artifacts(snapshot: EvidenceSnapshot) -> CheckOutcome:
    pending = _evidence_not_attached(snapshot)
    if pending is not None:
        return pending
    artifacts = snapshot.candidate.artifacts
    kinds = {artifact.kind for artifact in artifacts}
    mismatched, absent, verified = _stored_file_checks(snapshot)
    numbers = {
        "artifacts": len(artifacts),
        "required_kinds": list(snapshot.rules.required_artifact_kinds),
        "missing_kinds": [kind for kind in snapshot.rules.required_artifact_kinds if kind not in kinds],
        "without_digest": [artifact.name for artifact in artifacts if not artifact.sha256],
        "verified": verified,
        "digest_mismatch": mismatched,
        "missing_files": absent,
        "unreachable_files": [
            f"{artifact.name} ({snapshot.unreachable_files[artifact.uri]})"
            for artifact in artifacts
            if artifact.uri in snapshot.unreachable_files
        ],
    }
    problems = [
        template.format(", ".join(numbers[key])) for key, template in _ARTIFACT_PROBLEMS if numbers[key]
    ]
    if problems:
        return _failed(_sentence("; ".join(problems)) + ".", **numbers)
    verified = f", {numbers['verified']} verified against stored files" if snapshot.stored_digests else ""
    return _passed(f"{len(artifacts)} artifacts, all with digests{verified}.", **numbers)


def check_evaluation(snapshot: EvidenceSnapshot) -> CheckOutcome:
    candidate = snapshot.candidate
    pending = _evidence_not_attached(snapshot)
    if pending is not None:
        return pending
    if not candidate.has_evaluation:
        return _failed("No evaluation report attached.")
    if not candidate.metrics:
        return _failed(
            f"The evaluation on {candidate.dataset} reports no metrics.", dataset=candidate.dataset
        )
    return _passed(
        f"Evaluated on {candidate.dataset}: {len(candidate.metrics)} metrics, "
        f"{len(candidate.slices)} slice results.",
        dataset=candidate.dataset,
        metrics=len(candidate.metrics),
        slices=len(candidate.slices),
    )


def check_metric_bars(snapshot: EvidenceSnapshot) -> CheckOutcome:
    bars = snapshot.rules.metric_bars
    if not bars:
        return _not_configured("The policy sets no metric bars.", bars=[])
    rows, below, absent = [], [], []
    for bar in bars:
        metric = snapshot.candidate.metrics.get(bar.metric)
        measured = metric.value if metric else None
        holds = measured is not None and bar.holds(measured)
        rows.append({"metric": bar.metric, "op": bar.op, "bar": bar.value, "value": measured, "holds": holds})
        if metric is None:
            absent.append(bar.metric)
        elif not holds:
            below.append(f"{bar.metric} {_fmt(measured)} (needs {bar.op} {_fmt(bar.value)})")
    if absent or below:
        # Metric names keep their case: "auc", never "Auc".
        parts = ([f"not reported: {', '.join(absent)}"] if absent else []) + (
            [f"below the bar: {', '.join(below)}"] if below else []
        )
        return _failed(_sentence("; ".join(parts)) + ".", bars=rows)
    return _passed(f"All {len(bars)} metric bars met.", bars=rows)


def _baseline_unjudged(snapshot: EvidenceSnapshot) -> CheckOutcome | None:
    """The outcome when there is nothing to judge: no rule, or nothing in production."""
    if not snapshot.rules.baseline:
        return _not_configured(
            "The policy sets no rules against the version in production.",
            baseline=snapshot.baseline.identifier if snapshot.baseline else None,
            rules=[],
        )
    if snapshot.baseline is None:
        return _passed("Nothing in production to compare with.", baseline=None, rules=[])
    return None


def check_baseline(snapshot: EvidenceSnapshot) -> CheckOutcome:
    rules = snapshot.rules.baseline
    unjudged = _baseline_unjudged(snapshot)
    if unjudged is not None:
        return unjudged
    rows, regressions, absent = [], [], []
    for rule in rules:
        candidate = snapshot.candidate.metrics.get(rule.metric)
        baseline = snapshot.baseline.metrics.get(rule.metric)
        if candidate is None or baseline is None:
            absent.append(rule.metric)
            rows.append(
                {
                    "metric": rule.metric,
                    "value": candidate and candidate.value,
                    "baseline": baseline and baseline.value,
                    "holds": False,
                }
            )
            continue
        direction, conflict = metric_direction(snapshot, rule.metric, rule.direction)
        worse_by = worsening(candidate.value, baseline.value, direction)
        allowed = rule.tolerance * abs(baseline.value) if rule.relative else rule.tolerance
        holds = worse_by <= allowed + 1e-12 and not conflict
        rows.append(
            {
                "metric": rule.metric,
                "value": candidate.value,
                "baseline": baseline.value,
                "direction": direction,
                "worse_by": worse_by,
                "allowed": allowed,
                "relative": rule.relative,
                "holds": holds,
            }
        )
        if conflict:
            regressions.append(
                f"{rule.metric} is declared {candidate.direction}-is-better, "
                f"production says {baseline.direction}"
            )
        elif not holds:
            regressions.append(
                f"{rule.metric} {_fmt(candidate.value)} vs {_fmt(baseline.value)} "
                f"(allowed {_fmt(allowed)} worse)"
            )
    if absent or regressions:
        parts = ([f"not reported by both: {', '.join(absent)}"] if absent else []) + regressions
        return _failed(
            f"Worse than {snapshot.baseline.identifier}: " + "; ".join(parts) + ".",
            baseline=snapshot.baseline.identifier,
            rules=rows,
        )
    return _passed(
        f"Within tolerance of {snapshot.baseline.identifier} on {len(rules)} metrics.",
        baseline=snapshot.baseline.identifier,
        rules=rows,
    )


def _listed_unjudged(rule: SliceRule, rows: list[dict]) -> list[str]:
    """The listed slices that could not be judged for a reason other than being missing from the candidate
    (which the policy's `missing_slices` decides): a listed slice is one the board named, so it must be
    judged, not skipped for lack of data."""
    if rule.scope != "listed":
        return []
    accounted = {
        row["slice"] for row in rows if row["verdict"] in (*JUDGED, SliceVerdict.MISSING_FROM_CANDIDATE)
    }
    return [key for key in rule.slices if key not in accounted]


def _slices_sentence(numbers: dict, worst: dict | None, rule: SliceRule) -> str:
    """What the slices check found, in the words of the evidence: worse is only what was compared and found
    worse; a slice the candidate did not report is missing, never worse."""
    text = f"{numbers['worse']} worse of {numbers['judged']} compared with {numbers['baseline']}"
    if worst is not None:
        text += (
            f" beyond {_fmt(rule.max_worsening)}{' (relative)' if rule.relative else ''}; worst "
            f"{worst['slice']} {worst['metric']} {_fmt(worst['value'])} vs {_fmt(worst['baseline'])}"
        )
    if numbers["missing_from_candidate"]:
        text += f"; {numbers['missing_from_candidate']} missing from the candidate"
    if numbers["new_in_candidate"]:
        text += f"; {numbers['new_in_candidate']} new in the candidate"
    if numbers["too_few_samples"]:
        text += f"; {numbers['too_few_samples']} below {rule.min_samples} samples, not judged"
    return text + "."


def _slices_numbers(snapshot: EvidenceSnapshot, rule: SliceRule, rows: list[dict]) -> dict:
    counts = {verdict: 0 for verdict in SliceVerdict.ALL}
    for row in rows:
        counts[row["verdict"]] += 1
    return {
        "judged": sum(counts[verdict] for verdict in JUDGED),
        **counts,
        "min_samples": rule.min_samples,
        "max_worsening": rule.max_worsening,
        "relative": rule.relative,
        "missing_slices": snapshot.rules.missing_slices,
        "missing_listed": _listed_unjudged(rule, rows),
        "baseline": snapshot.baseline.identifier,
        "rows": rows,
    }


def check_slices(snapshot: EvidenceSnapshot) -> CheckOutcome:
    rule = snapshot.rules.slices
    if rule is None:
        return _not_configured("The policy sets no slice rule.", rows=[])
    if snapshot.baseline is None:
        return _passed("Nothing in production to compare slices with.", rows=[])
    rows = slice_comparison(snapshot)
    numbers = _slices_numbers(snapshot, rule, rows)
    worst = next((row for row in rows if row["verdict"] == SliceVerdict.WORSE), None)
    sentence = _slices_sentence(numbers, worst, rule)
    if worst is not None:
        return _failed(sentence, **numbers)
    if numbers["missing_listed"]:
        return _failed(
            f"Listed slices that could not be judged (not reported by both, or below {rule.min_samples} "
            f"samples): {', '.join(numbers['missing_listed'])}. {sentence}",
            **numbers,
        )
    if numbers["missing_from_candidate"]:
        missing = [row for row in rows if row["verdict"] == SliceVerdict.MISSING_FROM_CANDIDATE]
        named = ", ".join(f"{row['slice']} {row['metric']}" for row in missing[:3])
        more = "…" if len(missing) > 3 else ""
        text = f"{sentence} Missing: {named}{more}."
        if snapshot.rules.missing_slices == MissingSlices.FAIL:
            return _failed(f"{text} The policy fails missing slices on this move.", **numbers)
        return _warning(f"{text} The policy counts missing slices as a warning on this move.", **numbers)
    if not numbers["judged"]:
        return _warning(f"No slice could be judged: {sentence}", **numbers)
    return _passed(sentence, **numbers)


def check_latency(snapshot: EvidenceSnapshot) -> CheckOutcome:
    budget = snapshot.rules.latency_p95_ms_max
    measured = snapshot.candidate.latency_p95_ms
    if budget is None:
        return _not_configured("The policy sets no latency budget.", p95_ms=measured, budget_ms=None)
    if measured is None:
        return _failed("No performance profile: p95 latency unknown.", p95_ms=None, budget_ms=budget)
    if measured > budget:
        return _failed(
            f"p95 {_fmt(measured)} ms is over the {_fmt(budget)} ms budget.",
            p95_ms=measured,
            budget_ms=budget,
        )
    return _passed(
        f"p95 {_fmt(measured)} ms within the {_fmt(budget)} ms budget.", p95_ms=measured, budget_ms=budget
    )


def check_cost(snapshot: EvidenceSnapshot) -> CheckOutcome:
    budget = snapshot.rules.cost_per_1k_max
    measured = snapshot.candidate.cost_per_1k
    if budget is None:
        return _not_configured("The policy sets no cost budget.", cost_per_1k=measured, budget=None)
    if measured is None:
        return _failed("No cost per 1,000 predictions in the profile.", cost_per_1k=None, budget=budget)
    if measured > budget:
        return _failed(
            f"{_fmt(measured)} per 1,000 predictions is over the {_fmt(budget)} budget.",
            cost_per_1k=measured,
            budget=budget,
        )
    return _passed(
        f"{_fmt(measured)} per 1,000 predictions within the {_fmt(budget)} budget.",
        cost_per_1k=measured,
        budget=budget,
    )


def check_card_sections(snapshot: EvidenceSnapshot) -> CheckOutcome:
    required = snapshot.rules.required_card_sections
    sections = snapshot.candidate.card_sections
    missing = [name for name in required if not (sections.get(name) or "").strip()]
    labels = dict(Section.choices)
    if missing:
        return _failed(
            f"Card sections missing or empty: {', '.join(labels[name] for name in missing)}.",
            required=list(required),
            missing=missing,
        )
    if not required:
        return _not_configured("The policy requires no card sections.", required=[], missing=[])
    return _passed(
        f"All {len(required)} required card sections written.", required=list(required), missing=[]
    )


def check_owner(snapshot: EvidenceSnapshot) -> CheckOutcome:
    if not snapshot.owner:
        return _failed("The model's owner is no longer an active user: assign a new owner.", owner=None)
    return _passed(f"Owned by {snapshot.owner}.", owner=snapshot.owner)


def check_rollback_target(snapshot: EvidenceSnapshot) -> CheckOutcome:
    if snapshot.target_stage != Stage.PRODUCTION:
        return _passed("Not a move to Production: no rollback target needed.", target=None)
    if snapshot.baseline is not None:
        return _passed(
            f"{snapshot.baseline.identifier} would become the rollback target.",
            target=snapshot.baseline.identifier,
        )
    if snapshot.rules.allow_first_production:
        return _passed(
            "First production version: the policy allows it without a rollback target.", target=None
        )
    return _failed(
        "Nothing in production to roll back to, and the policy does not allow a first production version.",
        target=None,
    )


CHECKS: dict[str, Callable[[EvidenceSnapshot], CheckOutcome]] = {
    Check.SOURCE_RUN: check_source_run,
    Check.ARTIFACTS: check_artifacts,
    Check.EVALUATION: check_evaluation,
    Check.METRIC_BARS: check_metric_bars,
    Check.BASELINE: check_baseline,
    Check.SLICES: check_slices,
    Check.LATENCY: check_latency,
    Check.COST: check_cost,
    Check.CARD_SECTIONS: check_card_sections,
    Check.OWNER: check_owner,
    Check.ROLLBACK_TARGET: check_rollback_target,
}


def check_run(name: str, snapshot: EvidenceSnapshot) -> CheckOutcome:
    """Run one check; an exception is an error result with its message, never a pass."""
    try:
        outcome = CHECKS[name](snapshot)
    except Exception as error:  # noqa: BLE001 - any failure of a check is reported, not raised
        return CheckOutcome(
            Status.ERROR, f"The check failed to run: {type(error).__name__}: {error}"[:300], {}
        )
    problem = _outcome_problem(outcome)
    if problem:
        return CheckOutcome(Status.ERROR, f"The check returned {problem}."[:300], {})
    return outcome


def _outcome_problem(outcome) -> str:
    """Why `outcome` cannot be recorded as it is, or "". The results are stored as JSON with the run's final
    state: a value that cannot be stored would keep the whole run from ever finishing."""
    if not isinstance(outcome, CheckOutcome):
        return f"{type(outcome).__name__}, not a result"
    if outcome.status not in Status.values:
        return f"the unknown status {outcome.status!r}"
    if not isinstance(outcome.summary, str):
        return "a summary that is not text"
    try:
        json.dumps(outcome.numbers, allow_nan=False)
    except (TypeError, ValueError) as error:
        return f"numbers that cannot be stored ({error})"
    if not isinstance(outcome.numbers, dict):
        return "numbers that are not an object"
    return ""


def gate_verdict(outcomes: dict[str, CheckOutcome], required: tuple[str, ...]) -> str:
    """passed, failed or error, from the required checks; other checks inform and never block.

    A required check without an outcome did not run: that is an error, never a pass. A required check the
    policy sets no rule for (`not_configured`) neither passes nor blocks: it guarded nothing, which the gate
    report and the policy page say."""
    statuses = [outcomes[name].status if name in outcomes else Status.ERROR for name in required]
    if Status.FAILED in statuses:
        return "failed"
    if Status.ERROR in statuses:
        return "error"
    return "passed"
