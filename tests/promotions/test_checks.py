"""The eleven checks as plain functions of hand-built evidence: no database, no files, no clock."""

import pytest

from warehouse.promotions.gates import checks
from warehouse.promotions.gates.checks import (
    CHECKS,
    CheckOutcome,
    Status,
    check_artifacts,
    check_baseline,
    check_card_sections,
    check_cost,
    check_evaluation,
    check_latency,
    check_metric_bars,
    check_owner,
    check_rollback_target,
    check_run,
    check_slices,
    check_source_run,
    gate_verdict,
)
from warehouse.promotions.gates.comparison import slice_comparison
from warehouse.promotions.gates.snapshot import (
    ArtifactFacts,
    EvidenceSnapshot,
    MetricFacts,
    SliceFacts,
    VersionEvidence,
)
from warehouse.promotions.policies.rules import BaselineRule, Check, MetricBar, SectionRules, SliceRule

DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32
STORED_URI = "warehouse://models/fraud/model.onnx"


def evidence(identifier="fraud-scorer v2", **overrides) -> VersionEvidence:
    """Complete evidence, as a well-behaved pipeline registers it."""
    values = {
        "identifier": identifier,
        "has_source_run": True,
        "source_run": "mlflow:run-42",
        "artifacts": (
            ArtifactFacts("config.json", "config", "s3://models/fraud/config.json", OTHER_DIGEST),
            ArtifactFacts("model.onnx", "weights", "s3://models/fraud/model.onnx", DIGEST),
        ),
        "has_evaluation": True,
        "dataset": "payments-holdout@2026-10",
        "metrics": {"auc": MetricFacts(0.91, "higher"), "log_loss": MetricFacts(0.21, "lower")},
        "slices": {
            ("region=EU", "auc"): SliceFacts(0.90, 500),
            ("region=US", "auc"): SliceFacts(0.92, 800),
        },
        "latency_p95_ms": 9.5,
        "cost_per_1k": 0.0125,
        "card_sections": {"task": "Scores card payments.", "known_failures": "New merchants."},
    }
    values.update(overrides)
    return VersionEvidence(**values)


def snapshot(
    *,
    candidate: VersionEvidence | None = None,
    against: VersionEvidence | None = None,
    target_stage: str = "production",
    owner: str = "carol",
    stored_digests: dict | None = None,
    **rules,
) -> EvidenceSnapshot:
    return EvidenceSnapshot(
        candidate=candidate or evidence(),
        baseline=against,
        target_stage=target_stage,
        rules=SectionRules(**rules),
        owner=owner,
        stored_digests=stored_digests or {},
        baseline_version_id=7 if against is not None else None,
    )


def production(**overrides) -> VersionEvidence:
    return evidence("fraud-scorer v1", **overrides)


# --- source run -----------------------------------------------------------------------------------------


def test_it_passes_a_candidate_with_a_tracked_source_run():
    outcome = check_source_run(snapshot())

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"run": "mlflow:run-42"}
    assert "mlflow:run-42" in outcome.summary


def test_it_fails_a_candidate_without_a_source_run():
    outcome = check_source_run(snapshot(candidate=evidence(has_source_run=False, source_run="")))

    assert outcome.status == Status.FAILED
    assert "No tracked source run" in outcome.summary


# --- artifacts ------------------------------------------------------------------------------------------


def test_it_passes_complete_artifacts():
    outcome = check_artifacts(snapshot())

    assert outcome.status == Status.PASSED
    assert outcome.numbers["artifacts"] == 2
    assert outcome.numbers["missing_kinds"] == []
    assert outcome.numbers["without_digest"] == []
    assert outcome.summary == "2 artifacts, all with digests."


def test_it_fails_when_a_required_artifact_kind_is_missing():
    outcome = check_artifacts(snapshot(required_artifact_kinds=("weights", "tokenizer")))

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing_kinds"] == ["tokenizer"]
    assert "No tokenizer artifact" in outcome.summary


def test_it_fails_when_no_weights_were_registered():
    only_config = evidence(artifacts=(ArtifactFacts("config.json", "config", "s3://b/c.json", DIGEST),))

    outcome = check_artifacts(snapshot(candidate=only_config))

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing_kinds"] == ["weights"]


def test_it_fails_an_artifact_without_a_digest():
    no_digest = evidence(artifacts=(ArtifactFacts("model.onnx", "weights", "s3://b/model.onnx", ""),))

    outcome = check_artifacts(snapshot(candidate=no_digest))

    assert outcome.status == Status.FAILED
    assert outcome.numbers["without_digest"] == ["model.onnx"]
    assert "No digest for model.onnx" in outcome.summary


def test_it_passes_a_stored_file_whose_digest_matches():
    stored = evidence(artifacts=(ArtifactFacts("model.onnx", "weights", STORED_URI, DIGEST),))

    outcome = check_artifacts(snapshot(candidate=stored, stored_digests={STORED_URI: DIGEST}))

    assert outcome.status == Status.PASSED
    assert outcome.numbers["verified"] == 1
    assert "1 verified against stored files" in outcome.summary


def test_it_fails_a_stored_file_whose_digest_differs():
    stored = evidence(artifacts=(ArtifactFacts("model.onnx", "weights", STORED_URI, DIGEST),))

    outcome = check_artifacts(snapshot(candidate=stored, stored_digests={STORED_URI: OTHER_DIGEST}))

    assert outcome.status == Status.FAILED
    assert outcome.numbers["digest_mismatch"] == ["model.onnx"]
    assert outcome.numbers["verified"] == 0
    assert "differs from its digest: model.onnx" in outcome.summary


def test_it_fails_a_stored_file_that_is_missing():
    stored = evidence(artifacts=(ArtifactFacts("model.onnx", "weights", STORED_URI, DIGEST),))

    outcome = check_artifacts(snapshot(candidate=stored, stored_digests={STORED_URI: None}))

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing_files"] == ["model.onnx"]
    assert outcome.numbers["verified"] == 0
    assert "model.onnx" in outcome.summary


def test_it_does_not_count_a_stored_file_without_a_registered_digest_as_verified():
    stored = evidence(artifacts=(ArtifactFacts("model.onnx", "weights", STORED_URI, ""),))

    outcome = check_artifacts(snapshot(candidate=stored, stored_digests={STORED_URI: DIGEST}))

    assert outcome.status == Status.FAILED
    assert outcome.numbers["without_digest"] == ["model.onnx"]
    assert outcome.numbers["verified"] == 0


def test_it_ignores_recomputed_digests_for_files_outside_the_warehouse():
    # s3:// files are never opened: there is nothing in stored_digests for them, and nothing to compare.
    outcome = check_artifacts(snapshot())

    assert outcome.numbers["verified"] == 0
    assert outcome.numbers["digest_mismatch"] == []


# --- evaluation -----------------------------------------------------------------------------------------


def test_it_passes_an_attached_evaluation():
    outcome = check_evaluation(snapshot())

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"dataset": "payments-holdout@2026-10", "metrics": 2, "slices": 2}


def test_it_fails_without_an_evaluation_report():
    no_report = evidence(has_evaluation=False, dataset="", metrics={}, slices={})

    outcome = check_evaluation(snapshot(candidate=no_report))

    assert outcome.status == Status.FAILED
    assert outcome.summary == "No evaluation report attached."


def test_it_fails_an_evaluation_without_metrics():
    outcome = check_evaluation(snapshot(candidate=evidence(metrics={}, slices={})))

    assert outcome.status == Status.FAILED
    assert "reports no metrics" in outcome.summary


# --- metric bars ----------------------------------------------------------------------------------------


def test_it_is_not_configured_when_the_policy_sets_no_metric_bars():
    outcome = check_metric_bars(snapshot())

    assert outcome.status == Status.NOT_CONFIGURED
    assert outcome.numbers == {"bars": []}


@pytest.mark.parametrize(
    ("op", "bar", "holds"),
    [
        (">=", 0.91, True),
        (">=", 0.92, False),
        (">", 0.90, True),
        (">", 0.91, False),
        ("<=", 0.91, True),
        ("<=", 0.90, False),
        ("<", 0.92, True),
        ("<", 0.91, False),
    ],
)
def test_it_judges_a_metric_bar_with_each_operator(op, bar, holds):
    outcome = check_metric_bars(snapshot(metric_bars=(MetricBar("auc", op, bar),)))

    assert outcome.status == (Status.PASSED if holds else Status.FAILED)
    assert outcome.numbers["bars"] == [{"metric": "auc", "op": op, "bar": bar, "value": 0.91, "holds": holds}]
    if not holds:
        assert f"auc 0.91 (needs {op} {bar:g})" in outcome.summary


def test_it_fails_a_metric_bar_on_a_metric_the_candidate_does_not_report():
    outcome = check_metric_bars(
        snapshot(metric_bars=(MetricBar("auc", ">=", 0.8), MetricBar("recall", ">=", 0.5)))
    )

    assert outcome.status == Status.FAILED
    assert "Not reported: recall" in outcome.summary
    assert outcome.numbers["bars"][1] == {
        "metric": "recall",
        "op": ">=",
        "bar": 0.5,
        "value": None,
        "holds": False,
    }


def test_it_passes_a_lower_is_better_bar_written_with_at_most():
    outcome = check_metric_bars(snapshot(metric_bars=(MetricBar("log_loss", "<=", 0.25),)))

    assert outcome.status == Status.PASSED
    assert outcome.summary == "All 1 metric bars met."


# --- baseline -------------------------------------------------------------------------------------------


def test_it_passes_the_baseline_check_when_nothing_is_in_production():
    outcome = check_baseline(snapshot(against=None, baseline=(BaselineRule("auc"),)))

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"baseline": None, "rules": []}
    assert outcome.summary == "Nothing in production to compare with."


def test_the_baseline_check_is_not_configured_when_the_policy_sets_no_rules():
    outcome = check_baseline(snapshot(against=production(metrics={"auc": MetricFacts(0.99, "higher")})))

    assert outcome.status == Status.NOT_CONFIGURED
    assert outcome.summary == "The policy sets no rules against the version in production."
    assert outcome.numbers == {"baseline": "fraud-scorer v1", "rules": []}


def test_it_passes_a_metric_worse_by_less_than_an_absolute_tolerance():
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"auc": MetricFacts(0.905, "higher")}),
            against=production(metrics={"auc": MetricFacts(0.91, "higher")}),
            baseline=(BaselineRule("auc", tolerance=0.01),),
        )
    )

    assert outcome.status == Status.PASSED
    [row] = outcome.numbers["rules"]
    assert row["worse_by"] == pytest.approx(0.005)
    assert row["allowed"] == 0.01
    assert row["holds"] is True


def test_it_passes_a_metric_worse_by_exactly_the_tolerance():
    # 0.91 - 0.90 is 0.010000000000000009 in floating point: still "by at most 0.01".
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"auc": MetricFacts(0.90, "higher")}),
            against=production(metrics={"auc": MetricFacts(0.91, "higher")}),
            baseline=(BaselineRule("auc", tolerance=0.01),),
        )
    )

    assert outcome.status == Status.PASSED


def test_it_fails_a_metric_worse_than_production_beyond_the_tolerance():
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"auc": MetricFacts(0.88, "higher")}),
            against=production(metrics={"auc": MetricFacts(0.91, "higher")}),
            baseline=(BaselineRule("auc", tolerance=0.01),),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.summary == "Worse than fraud-scorer v1: auc 0.88 vs 0.91 (allowed 0.01 worse)."
    assert outcome.numbers["rules"][0]["worse_by"] == pytest.approx(0.03)
    assert outcome.numbers["rules"][0]["holds"] is False


def test_it_passes_a_lower_loss_as_better():
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"log_loss": MetricFacts(0.15, "lower")}),
            against=production(metrics={"log_loss": MetricFacts(0.21, "lower")}),
            baseline=(BaselineRule("log_loss"),),
        )
    )

    assert outcome.status == Status.PASSED
    [row] = outcome.numbers["rules"]
    assert row["direction"] == "lower"
    assert row["worse_by"] == pytest.approx(-0.06)


def test_it_fails_a_higher_loss_as_a_regression():
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"log_loss": MetricFacts(0.25, "lower")}),
            against=production(metrics={"log_loss": MetricFacts(0.21, "lower")}),
            baseline=(BaselineRule("log_loss", tolerance=0.01),),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["rules"][0]["worse_by"] == pytest.approx(0.04)


def test_it_follows_the_direction_the_rule_names_over_the_evaluations():
    # The evaluation calls it higher-is-better; the rule says lower: a rise is then a regression.
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"latency_score": MetricFacts(0.5, "higher")}),
            against=production(metrics={"latency_score": MetricFacts(0.4, "higher")}),
            baseline=(BaselineRule("latency_score", direction="lower"),),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["rules"][0]["direction"] == "lower"


@pytest.mark.parametrize(
    ("relative", "status", "allowed"),
    [(False, Status.PASSED, 0.05), (True, Status.FAILED, 0.01)],
    ids=["absolute", "relative"],
)
def test_it_reads_a_tolerance_as_absolute_or_as_a_fraction_of_production(relative, status, allowed):
    # Worse by 0.02: within 0.05 absolute, but not within 5% of 0.20 (0.01).
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"log_loss": MetricFacts(0.22, "lower")}),
            against=production(metrics={"log_loss": MetricFacts(0.20, "lower")}),
            baseline=(BaselineRule("log_loss", tolerance=0.05, relative=relative),),
        )
    )

    assert outcome.status == status
    assert outcome.numbers["rules"][0]["allowed"] == pytest.approx(allowed)
    assert outcome.numbers["rules"][0]["relative"] is relative


def test_it_fails_a_baseline_rule_on_a_metric_the_candidate_does_not_report():
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"log_loss": MetricFacts(0.2, "lower")}),
            against=production(),
            baseline=(BaselineRule("auc"),),
        )
    )

    assert outcome.status == Status.FAILED
    assert "not reported by both: auc" in outcome.summary
    assert outcome.numbers["rules"] == [{"metric": "auc", "value": None, "baseline": 0.91, "holds": False}]


def test_it_fails_a_baseline_rule_on_a_metric_production_does_not_report():
    outcome = check_baseline(
        snapshot(
            against=production(metrics={"log_loss": MetricFacts(0.2, "lower")}),
            baseline=(BaselineRule("auc"),),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["rules"] == [{"metric": "auc", "value": 0.91, "baseline": None, "holds": False}]


# --- slices ---------------------------------------------------------------------------------------------


def slices_of(**values) -> dict:
    """region=EU=(0.9, 500) style: {("region=EU", "auc"): SliceFacts(0.9, 500)}."""
    return {tuple(key.split("|")): SliceFacts(*facts) for key, facts in values.items()}


def slice_snapshot(
    candidate_slices: dict,
    production_slices: dict | None,
    rule: SliceRule | None,
    missing_slices: str = "warn",
    **more,
):
    return snapshot(
        candidate=evidence(slices=candidate_slices, **more),
        against=production(slices=production_slices) if production_slices is not None else None,
        slices=rule,
        missing_slices=missing_slices,
    )


def test_slices_are_not_configured_when_the_policy_sets_no_slice_rule():
    outcome = check_slices(slice_snapshot({}, {}, None))

    assert outcome.status == Status.NOT_CONFIGURED
    assert outcome.numbers == {"rows": []}


def test_it_passes_slices_when_nothing_is_in_production():
    outcome = check_slices(
        slice_snapshot({("region=EU", "auc"): SliceFacts(0.5, 500)}, None, SliceRule(max_worsening=0.0))
    )

    assert outcome.status == Status.PASSED
    assert outcome.summary == "Nothing in production to compare slices with."


def test_it_passes_slices_within_tolerance():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.895, 500), ("region=US", "auc"): SliceFacts(0.95, 800)},
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=US", "auc"): SliceFacts(0.92, 800)},
            SliceRule(max_worsening=0.01, min_samples=100),
        )
    )

    assert outcome.status == Status.PASSED
    assert outcome.numbers["judged"] == 2
    assert outcome.numbers["worse"] == 0
    assert outcome.summary == "0 worse of 2 compared with fraud-scorer v1."


def test_it_fails_a_slice_that_worsened_beyond_tolerance():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.85, 500), ("region=US", "auc"): SliceFacts(0.92, 800)},
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=US", "auc"): SliceFacts(0.92, 800)},
            SliceRule(max_worsening=0.01, min_samples=100),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["worse"] == 1
    assert outcome.summary.startswith("1 worse of 2 compared with fraud-scorer v1 beyond 0.01")
    assert "worst region=EU auc 0.85 vs 0.9" in outcome.summary
    first = outcome.numbers["rows"][0]
    assert (first["slice"], first["verdict"]) == ("region=EU", "worse")
    assert first["delta"] == pytest.approx(-0.05)


def test_it_does_not_judge_a_slice_below_the_minimum_samples():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.50, 99), ("region=US", "auc"): SliceFacts(0.92, 800)},
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=US", "auc"): SliceFacts(0.92, 800)},
            SliceRule(max_worsening=0.01, min_samples=100),
        )
    )

    assert outcome.status == Status.PASSED
    assert outcome.numbers["too_few_samples"] == 1
    assert outcome.numbers["judged"] == 1
    assert "1 below 100 samples, not judged" in outcome.summary
    verdicts = {row["slice"]: row["verdict"] for row in outcome.numbers["rows"]}
    assert verdicts == {"region=EU": "too_few_samples", "region=US": "within_tolerance"}


def test_it_judges_a_slice_at_exactly_the_minimum_samples():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.50, 100)},
            {("region=EU", "auc"): SliceFacts(0.90, 500)},
            SliceRule(max_worsening=0.01, min_samples=100),
        )
    )

    assert outcome.status == Status.FAILED


def test_it_warns_when_no_slice_has_enough_samples():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.50, 10)},
            {("region=EU", "auc"): SliceFacts(0.90, 500)},
            SliceRule(max_worsening=0.01, min_samples=100),
        )
    )

    assert outcome.status == Status.WARNING
    assert outcome.summary == (
        "No slice could be judged: 0 worse of 0 compared with fraud-scorer v1; "
        "1 below 100 samples, not judged."
    )


def test_it_fails_a_slice_whose_loss_rose():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "log_loss"): SliceFacts(0.30, 500)},
            {("region=EU", "log_loss"): SliceFacts(0.20, 500)},
            SliceRule(max_worsening=0.01),
        )
    )

    assert outcome.status == Status.FAILED
    row = outcome.numbers["rows"][0]
    assert row["direction"] == "lower"
    assert row["worse_by"] == pytest.approx(0.10)


def test_it_passes_a_slice_whose_loss_fell():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "log_loss"): SliceFacts(0.10, 500)},
            {("region=EU", "log_loss"): SliceFacts(0.20, 500)},
            SliceRule(max_worsening=0.0),
        )
    )

    assert outcome.status == Status.PASSED
    assert outcome.numbers["rows"][0]["verdict"] == "better"


def test_it_knows_a_loss_reported_only_per_slice_is_lower_is_better():
    # The evaluation reports "brier" per slice but not overall: its direction is still well known.
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "brier"): SliceFacts(0.30, 500)},
            {("region=EU", "brier"): SliceFacts(0.20, 500)},
            SliceRule(max_worsening=0.01),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["rows"][0]["direction"] == "lower"


@pytest.mark.parametrize(
    ("relative", "status"), [(False, Status.PASSED), (True, Status.FAILED)], ids=["absolute", "relative"]
)
def test_it_reads_the_slice_tolerance_as_absolute_or_relative(relative, status):
    # Worse by 0.03 on a slice at 0.40: within 0.05, but not within 5% of 0.40 (0.02).
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.37, 500)},
            {("region=EU", "auc"): SliceFacts(0.40, 500)},
            SliceRule(max_worsening=0.05, relative=relative),
        )
    )

    assert outcome.status == status
    assert outcome.numbers["rows"][0]["allowed"] == pytest.approx(0.02 if relative else 0.05)


def test_it_fails_a_listed_slice_that_the_candidate_does_not_report():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.90, 500)},
            {("region=EU", "auc"): SliceFacts(0.90, 500)},
            SliceRule(scope="listed", slices=("region=EU", "region=APAC")),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.summary.startswith(
        "Listed slices that could not be judged (not reported by both, or below 100 samples): region=APAC."
    )
    assert outcome.numbers["missing_listed"] == ["region=APAC"]


def test_it_checks_only_the_listed_slices():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=US", "auc"): SliceFacts(0.10, 500)},
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=US", "auc"): SliceFacts(0.92, 500)},
            SliceRule(scope="listed", slices=("region=EU",)),
        )
    )

    assert outcome.status == Status.PASSED
    verdicts = {row["slice"]: row["verdict"] for row in outcome.numbers["rows"]}
    assert verdicts == {"region=EU": "within_tolerance", "region=US": "not_checked"}


def test_it_checks_only_the_metrics_the_slice_rule_names():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=EU", "recall"): SliceFacts(0.1, 500)},
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=EU", "recall"): SliceFacts(0.9, 500)},
            SliceRule(metrics=("auc",)),
        )
    )

    assert outcome.status == Status.PASSED
    assert {row["metric"]: row["verdict"] for row in outcome.numbers["rows"]} == {
        "auc": "within_tolerance",
        "recall": "not_checked",
    }


def test_it_lists_a_slice_production_never_reported_as_new_in_the_candidate():
    rows = slice_comparison(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=NEW", "auc"): SliceFacts(0.5, 500)},
            {("region=EU", "auc"): SliceFacts(0.90, 500)},
            SliceRule(),
        )
    )

    assert [(row["slice"], row["verdict"], row["baseline"], row["delta"]) for row in rows] == [
        ("region=EU", "within_tolerance", 0.90, 0.0),
        ("region=NEW", "new_in_candidate", None, None),
    ]


def test_it_orders_the_slice_comparison_regressions_first_and_worst_first():
    rows = slice_comparison(
        slice_snapshot(
            {
                ("a=1", "auc"): SliceFacts(0.89, 500),
                ("a=2", "auc"): SliceFacts(0.70, 500),
                ("a=3", "auc"): SliceFacts(0.95, 500),
                ("a=4", "auc"): SliceFacts(0.10, 5),
                ("a=5", "auc"): SliceFacts(0.85, 500),
            },
            {key: SliceFacts(0.90, 500) for key in [(f"a={i}", "auc") for i in range(1, 6)]},
            SliceRule(max_worsening=0.02),
        )
    )

    assert [(row["slice"], row["verdict"]) for row in rows] == [
        ("a=2", "worse"),
        ("a=5", "worse"),
        ("a=1", "within_tolerance"),
        ("a=3", "better"),
        ("a=4", "too_few_samples"),
    ]


# --- latency and cost -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measured", "status"),
    [(9.0, Status.PASSED), (10.0, Status.PASSED), (10.5, Status.FAILED)],
    ids=["under", "at", "over"],
)
def test_it_judges_p95_latency_against_the_budget(measured, status):
    outcome = check_latency(snapshot(candidate=evidence(latency_p95_ms=measured), latency_p95_ms_max=10.0))

    assert outcome.status == status
    assert outcome.numbers == {"p95_ms": measured, "budget_ms": 10.0}
    if status == Status.FAILED:
        assert outcome.summary == "p95 10.5 ms is over the 10 ms budget."


def test_it_fails_the_latency_budget_without_a_profile():
    outcome = check_latency(snapshot(candidate=evidence(latency_p95_ms=None), latency_p95_ms_max=10.0))

    assert outcome.status == Status.FAILED
    assert outcome.numbers == {"p95_ms": None, "budget_ms": 10.0}


def test_latency_is_not_configured_when_the_policy_sets_no_budget():
    outcome = check_latency(snapshot(candidate=evidence(latency_p95_ms=None)))

    assert outcome.status == Status.NOT_CONFIGURED
    assert outcome.numbers == {"p95_ms": None, "budget_ms": None}


@pytest.mark.parametrize(
    ("measured", "status"),
    [(0.01, Status.PASSED), (0.02, Status.PASSED), (0.03, Status.FAILED)],
    ids=["under", "at", "over"],
)
def test_it_judges_cost_per_1k_against_the_budget(measured, status):
    outcome = check_cost(snapshot(candidate=evidence(cost_per_1k=measured), cost_per_1k_max=0.02))

    assert outcome.status == status
    assert outcome.numbers == {"cost_per_1k": measured, "budget": 0.02}


def test_it_fails_the_cost_budget_without_a_cost():
    outcome = check_cost(snapshot(candidate=evidence(cost_per_1k=None), cost_per_1k_max=0.02))

    assert outcome.status == Status.FAILED
    assert outcome.summary == "No cost per 1,000 predictions in the profile."


def test_cost_is_not_configured_when_the_policy_sets_no_budget():
    outcome = check_cost(snapshot(candidate=evidence(cost_per_1k=None)))

    assert outcome.status == Status.NOT_CONFIGURED
    assert outcome.summary == "The policy sets no cost budget."


# --- card sections, owner -------------------------------------------------------------------------------


def test_it_passes_when_every_required_card_section_is_written():
    outcome = check_card_sections(snapshot(required_card_sections=("task", "known_failures")))

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"required": ["task", "known_failures"], "missing": []}


def test_it_fails_missing_and_blank_card_sections():
    card = {"task": "Scores payments.", "known_failures": "  \n\t "}

    outcome = check_card_sections(
        snapshot(
            candidate=evidence(card_sections=card),
            required_card_sections=("task", "known_failures", "owners_contacts"),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing"] == ["known_failures", "owners_contacts"]
    assert outcome.summary == "Card sections missing or empty: Known failures, Owners and contacts."


def test_a_policy_may_require_intended_users_and_the_decision_influenced():
    card = {"task": "Scores payments.", "intended_users": "Fraud analysts."}

    outcome = check_card_sections(
        snapshot(
            candidate=evidence(card_sections=card),
            required_card_sections=("task", "intended_users", "decision_influenced"),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing"] == ["decision_influenced"]
    assert outcome.summary == "Card sections missing or empty: Decision influenced."


def test_it_fails_required_card_sections_when_there_is_no_card():
    outcome = check_card_sections(
        snapshot(candidate=evidence(card_sections={}), required_card_sections=("task",))
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing"] == ["task"]


def test_card_sections_are_not_configured_when_none_are_required():
    outcome = check_card_sections(snapshot(candidate=evidence(card_sections={})))

    assert outcome.status == Status.NOT_CONFIGURED
    assert outcome.summary == "The policy requires no card sections."


def test_it_passes_an_active_owner():
    outcome = check_owner(snapshot(owner="carol"))

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"owner": "carol"}


def test_it_fails_an_owner_who_is_no_longer_active():
    outcome = check_owner(snapshot(owner=""))

    assert outcome.status == Status.FAILED
    assert outcome.numbers == {"owner": None}
    assert "assign a new owner" in outcome.summary


# --- rollback target ------------------------------------------------------------------------------------


def test_it_needs_no_rollback_target_for_staging():
    outcome = check_rollback_target(snapshot(target_stage="staging", against=None))

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"target": None}
    assert "Not a move to Production" in outcome.summary


def test_it_names_production_as_the_rollback_target():
    outcome = check_rollback_target(snapshot(target_stage="production", against=production()))

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"target": "fraud-scorer v1"}


def test_it_allows_a_first_production_version_when_the_policy_says_so():
    outcome = check_rollback_target(
        snapshot(target_stage="production", against=None, allow_first_production=True)
    )

    assert outcome.status == Status.PASSED
    assert outcome.numbers == {"target": None}
    assert "First production version" in outcome.summary


def test_it_refuses_a_first_production_version_when_the_policy_does_not_allow_it():
    outcome = check_rollback_target(
        snapshot(target_stage="production", against=None, allow_first_production=False)
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers == {"target": None}


# --- running checks and the verdict ---------------------------------------------------------------------


def test_every_check_policies_can_name_has_a_function():
    assert tuple(CHECKS) == Check.ALL


def test_it_runs_every_check_on_complete_evidence_without_an_error():
    every = snapshot(
        against=production(),
        required_checks=Check.ALL,
        metric_bars=(MetricBar("auc", ">=", 0.9),),
        baseline=(BaselineRule("auc", tolerance=0.01),),
        slices=SliceRule(max_worsening=0.01),
        latency_p95_ms_max=10.0,
        cost_per_1k_max=0.02,
        required_card_sections=("task",),
    )

    outcomes = {name: check_run(name, every) for name in CHECKS}

    assert {name: outcome.status for name, outcome in outcomes.items()} == dict.fromkeys(
        Check.ALL, Status.PASSED
    )
    assert gate_verdict(outcomes, Check.ALL) == "passed"


def test_a_required_check_with_no_rule_is_not_configured_and_neither_passes_nor_blocks():
    every = snapshot(against=production(), required_checks=Check.ALL)

    outcomes = {name: check_run(name, every) for name in CHECKS}

    unruled = {name for name, outcome in outcomes.items() if outcome.status == Status.NOT_CONFIGURED}
    assert unruled == {
        Check.METRIC_BARS,
        Check.BASELINE,
        Check.SLICES,
        Check.LATENCY,
        Check.COST,
        Check.CARD_SECTIONS,
    }
    assert gate_verdict(outcomes, Check.ALL) == "passed"


def test_it_records_a_check_that_raises_as_an_error_with_its_message(monkeypatch):
    def broken(snapshot):
        raise ValueError("the slice table is corrupt")

    monkeypatch.setitem(checks.CHECKS, Check.SLICES, broken)

    outcome = check_run(Check.SLICES, snapshot())

    assert outcome.status == Status.ERROR
    assert outcome.summary == "The check failed to run: ValueError: the slice table is corrupt"
    assert outcome.numbers == {}


def test_it_records_a_check_that_returns_no_outcome_as_an_error(monkeypatch):
    monkeypatch.setitem(checks.CHECKS, Check.COST, lambda snapshot: None)

    outcome = check_run(Check.COST, snapshot())

    assert outcome.status == Status.ERROR
    assert "returned" in outcome.summary


def test_it_records_a_check_that_returns_an_unknown_status_as_an_error(monkeypatch):
    monkeypatch.setitem(checks.CHECKS, Check.COST, lambda snapshot: CheckOutcome("ok", "Fine."))

    assert check_run(Check.COST, snapshot()).status == Status.ERROR


def test_it_records_a_check_whose_numbers_are_not_json_as_an_error(monkeypatch):
    # The numbers are stored as JSON with the results: a set (or NaN) would stop the whole run from finishing.
    monkeypatch.setitem(
        checks.CHECKS, Check.COST, lambda snapshot: CheckOutcome("passed", "Fine.", {"x": {1}})
    )

    assert check_run(Check.COST, snapshot()).status == Status.ERROR


def test_it_keeps_an_error_summary_to_one_short_line(monkeypatch):
    def verbose(snapshot):
        raise RuntimeError("x" * 5000)

    monkeypatch.setitem(checks.CHECKS, Check.OWNER, verbose)

    outcome = check_run(Check.OWNER, snapshot())

    assert outcome.status == Status.ERROR
    assert len(outcome.summary) <= 300
    assert outcome.summary.startswith("The check failed to run: RuntimeError: xxx")


def _outcomes(**statuses) -> dict[str, CheckOutcome]:
    return {name: CheckOutcome(status, name) for name, status in statuses.items()}


def test_the_verdict_is_passed_when_every_required_check_passed():
    assert gate_verdict(_outcomes(owner="passed", cost="passed"), ("owner", "cost")) == "passed"


def test_the_verdict_ignores_checks_the_policy_does_not_require():
    outcomes = _outcomes(owner="passed", cost="failed", latency="error")

    assert gate_verdict(outcomes, ("owner",)) == "passed"


def test_the_verdict_counts_a_required_warning_as_passed():
    assert gate_verdict(_outcomes(slices="warning"), ("slices",)) == "passed"


def test_a_failed_required_check_beats_an_errored_one():
    outcomes = _outcomes(owner="error", cost="failed", latency="passed")

    assert gate_verdict(outcomes, ("owner", "cost", "latency")) == "failed"


def test_an_errored_required_check_beats_passed_ones():
    outcomes = _outcomes(owner="error", cost="passed")

    assert gate_verdict(outcomes, ("owner", "cost")) == "error"


def test_the_verdict_is_passed_when_the_policy_requires_nothing():
    assert gate_verdict(_outcomes(owner="failed"), ()) == "passed"


def test_a_required_check_that_did_not_run_is_an_error_not_a_pass():
    assert gate_verdict(_outcomes(owner="passed"), ("owner", "cost")) == "error"


# --- the candidate does not decide which way is better, nor which slices count ---------------------------


def test_a_candidate_cannot_declare_its_worse_loss_better():
    outcome = check_baseline(
        snapshot(
            candidate=evidence(metrics={"log_loss": MetricFacts(0.40, "higher")}),
            against=production(metrics={"log_loss": MetricFacts(0.20, "lower")}),
            baseline=(BaselineRule("log_loss", tolerance=0.01),),
        )
    )

    assert outcome.status == Status.FAILED
    assert "log_loss is declared higher-is-better, production says lower" in outcome.summary


def test_a_per_slice_metric_is_judged_the_way_production_judges_it():
    gap = ("region=EU", "calibration_gap")
    outcome = check_slices(
        snapshot(
            candidate=evidence(
                slices={gap: SliceFacts(0.30, 500)}, metrics={"calibration_gap": MetricFacts(0.2, "higher")}
            ),
            against=production(
                slices={gap: SliceFacts(0.10, 500)}, metrics={"calibration_gap": MetricFacts(0.1, "lower")}
            ),
            slices=SliceRule(max_worsening=0.01),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["rows"][0]["direction"] == "lower"


def _dropped(missing_slices: str):
    """A candidate that reports one of production's four slices, the one it reports unchanged."""
    produced = {(f"region={name}", "auc"): SliceFacts(0.80, 400) for name in ("EU", "US", "APAC", "MEA")}
    return slice_snapshot(
        {("region=EU", "auc"): SliceFacts(0.80, 500)}, produced, SliceRule(max_worsening=0.01), missing_slices
    )


@pytest.mark.parametrize(("missing_slices", "status"), [("fail", Status.FAILED), ("warn", Status.WARNING)])
def test_slices_missing_from_the_candidate_are_missing_never_worse(missing_slices, status):
    outcome = check_slices(_dropped(missing_slices))

    assert outcome.status == status
    assert outcome.summary.startswith(
        "0 worse of 1 compared with fraud-scorer v1; 3 missing from the candidate."
    )
    assert "worse than" not in outcome.summary
    assert (outcome.numbers["worse"], outcome.numbers["missing_from_candidate"]) == (0, 3)
    assert outcome.numbers["missing_slices"] == missing_slices
    dropped = [row for row in outcome.numbers["rows"] if row["verdict"] == "missing_from_candidate"]
    assert {(row["slice"], row["value"], row["baseline"]) for row in dropped} == {
        ("region=US", None, 0.80),
        ("region=APAC", None, 0.80),
        ("region=MEA", None, 0.80),
    }


def test_a_worse_slice_fails_whatever_the_policy_says_of_missing_ones():
    snap = _dropped("warn")
    worse = snap.candidate.slices | {("region=US", "auc"): SliceFacts(0.50, 500)}
    outcome = check_slices(
        slice_snapshot(worse, snap.baseline.slices, SliceRule(max_worsening=0.01), missing_slices="warn")
    )

    assert outcome.status == Status.FAILED
    assert outcome.summary.startswith("1 worse of 2 compared with fraud-scorer v1 beyond 0.01")
    assert "; 2 missing from the candidate" in outcome.summary


@pytest.mark.parametrize(
    ("verdict", "candidate", "baseline", "samples"),
    [
        ("worse", 0.80, 0.90, 500),
        ("within_tolerance", 0.895, 0.90, 500),
        ("better", 0.95, 0.90, 500),
        ("missing_from_candidate", None, 0.90, 500),
        ("new_in_candidate", 0.90, None, 500),
        ("too_few_samples", 0.50, 0.90, 5),
    ],
)
def test_each_slice_verdict(verdict, candidate, baseline, samples):
    key = ("region=EU", "auc")
    rows = slice_comparison(
        slice_snapshot(
            {key: SliceFacts(candidate, samples)} if candidate is not None else {},
            {key: SliceFacts(baseline, samples)} if baseline is not None else {},
            SliceRule(max_worsening=0.01),
        )
    )

    assert [row["verdict"] for row in rows] == [verdict]


def test_a_thin_production_slice_is_not_judged_either():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.50, 5000)},
            {("region=EU", "auc"): SliceFacts(0.90, 3)},
            SliceRule(max_worsening=0.01, min_samples=100),
        )
    )

    [row] = outcome.numbers["rows"]
    assert (row["verdict"], row["samples"]) == ("too_few_samples", 3)


def test_a_listed_slice_without_a_baseline_fails_rather_than_passing_unjudged():
    outcome = check_slices(
        slice_snapshot(
            {("region=EU", "auc"): SliceFacts(0.90, 500), ("region=LATAM", "auc"): SliceFacts(0.80, 500)},
            {("region=EU", "auc"): SliceFacts(0.90, 500)},
            SliceRule(scope="listed", slices=("region=EU", "region=LATAM")),
        )
    )

    assert outcome.status == Status.FAILED
    assert outcome.numbers["missing_listed"] == ["region=LATAM"]


# --- evidence pending (registered through MLflow's registry API, attached later) ------------------------

PENDING = evidence(
    has_source_run=False,
    source_run="",
    artifacts=(),
    has_evaluation=False,
    dataset="",
    metrics={},
    slices={},
    latency_p95_ms=None,
    cost_per_1k=None,
    evidence_pending=True,
    source_uri="s3://mlflow/7/abc/model",
    attach_with="PUT /api/v1/models/fraud-scorer/versions/2/evidence",
)
PENDING_SUMMARY = (
    "Evidence not attached: the version was registered from s3://mlflow/7/abc/model without digests, "
    "evaluation or profile; attach it with PUT /api/v1/models/fraud-scorer/versions/2/evidence."
)


@pytest.mark.parametrize("check", [check_evaluation, check_artifacts, check_source_run])
def test_a_check_of_evidence_fails_a_version_whose_evidence_is_pending_saying_so(check):
    outcome = check(snapshot(candidate=PENDING, required_artifact_kinds=("weights",)))

    assert outcome.status == Status.FAILED
    assert outcome.summary == PENDING_SUMMARY
    assert outcome.numbers == {"evidence": "pending", "source": "s3://mlflow/7/abc/model"}


def test_no_check_breaks_on_a_version_whose_evidence_is_pending():
    rules = {
        "metric_bars": (MetricBar("auc", ">=", 0.8),),
        "baseline": (BaselineRule("auc", tolerance=0.01),),
        "slices": SliceRule(min_samples=100, max_worsening=0.02),
        "latency_p95_ms_max": 20.0,
        "cost_per_1k_max": 0.05,
    }
    pending = snapshot(candidate=PENDING, against=production(), **rules)

    outcomes = {name: check_run(name, pending) for name in CHECKS}

    assert not [name for name, outcome in outcomes.items() if outcome.status == Status.ERROR]
    assert gate_verdict(outcomes, tuple(CHECKS)) == "failed"
