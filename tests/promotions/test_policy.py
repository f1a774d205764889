"""Reading policy rules from plain data: every bad field named by its path, nothing written, no database."""

import copy
import json

import pytest

from warehouse.errors import InvalidInput
from warehouse.promotions.policies.rules import (
    DEFAULT_RULES,
    BaselineRule,
    Check,
    MetricBar,
    SignoffRule,
    SliceRule,
    checks_without_rule,
    policy_parse,
    policy_warnings,
)


def rules_with(section: str = "staging_to_production", **fields) -> dict:
    """The default rules as data, with `fields` replacing those of one section."""
    data = copy.deepcopy(DEFAULT_RULES.as_data())
    data[section].update(fields)
    return data


def errors_of(data) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as refused:
        policy_parse(data)
    return refused.value.errors


def test_the_default_rules_read_back_unchanged():
    assert policy_parse(DEFAULT_RULES.as_data()) == DEFAULT_RULES


def test_the_default_rules_survive_a_trip_through_json():
    data = json.loads(json.dumps(DEFAULT_RULES.as_data()))

    assert policy_parse(data) == DEFAULT_RULES
    assert policy_parse(data).as_data() == data


def test_intended_users_and_the_decision_may_be_required_but_are_not_by_default():
    for section in ("draft_to_staging", "staging_to_production"):
        required = DEFAULT_RULES.as_data()[section]["required_card_sections"]
        assert "intended_users" not in required and "decision_influenced" not in required

    rules = policy_parse(rules_with(required_card_sections=["task", "intended_users", "decision_influenced"]))

    assert rules.staging_to_production.required_card_sections == (
        "task",
        "intended_users",
        "decision_influenced",
    )


def test_it_reads_every_kind_of_rule():
    rules = policy_parse(
        rules_with(
            metric_bars=[{"metric": "auc", "op": ">=", "value": 0.8}],
            baseline=[{"metric": "log_loss", "tolerance": 0.05, "relative": True, "direction": "lower"}],
            slices={
                "scope": "listed",
                "slices": ["region=EU", "region=US,device=mobile"],
                "metrics": ["auc"],
                "max_worsening": 0.02,
                "relative": False,
                "min_samples": 50,
            },
            latency_p95_ms_max=25,
            cost_per_1k_max=0.5,
            signoffs={"count": 2, "roles": ["approver", "reviewer"]},
            allow_first_production=False,
        )
    )

    section = rules.for_target("production")
    assert section.metric_bars == (MetricBar("auc", ">=", 0.8),)
    assert section.baseline == (BaselineRule("log_loss", tolerance=0.05, relative=True, direction="lower"),)
    assert section.slices == SliceRule(
        scope="listed",
        slices=("region=EU", "region=US,device=mobile"),
        metrics=("auc",),
        max_worsening=0.02,
        min_samples=50,
    )
    assert section.latency_p95_ms_max == 25.0
    assert section.cost_per_1k_max == 0.5
    assert section.signoffs == SignoffRule(count=2, roles=("approver", "reviewer"))
    assert section.allow_first_production is False
    assert rules.for_target("staging") == DEFAULT_RULES.draft_to_staging


def test_an_empty_section_means_no_extra_rules():
    rules = policy_parse({"draft_to_staging": {}, "staging_to_production": {}})

    section = rules.for_target("staging")
    assert section.required_checks == ()
    assert section.required_artifact_kinds == ("weights",)
    assert section.slices is None
    assert section.signoffs == SignoffRule(count=1, roles=("reviewer",))


@pytest.mark.parametrize("data", [None, [], "rules", 3], ids=["null", "list", "text", "number"])
def test_it_refuses_rules_that_are_not_an_object(data):
    assert errors_of(data) == {"rules": ["The rules must be a JSON object with one section per move."]}


def test_it_needs_both_sections():
    errors = errors_of({"draft_to_staging": {}})

    assert list(errors) == ["staging_to_production"]


def test_it_refuses_an_unknown_section():
    errors = errors_of({"draft_to_staging": {}, "staging_to_production": {}, "production_to_moon": {}})

    assert list(errors) == ["production_to_moon"]
    assert "Unknown field" in errors["production_to_moon"][0]


def test_it_refuses_a_section_that_is_not_an_object():
    errors = errors_of({"draft_to_staging": [], "staging_to_production": {}})

    assert errors == {"draft_to_staging": ["Must be an object."]}


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"required_check": []}, "staging_to_production.required_check"),
        ({"required_checks": ["owner", "vibes"]}, "staging_to_production.required_checks[1]"),
        ({"required_checks": ["owner", "owner"]}, "staging_to_production.required_checks[1]"),
        ({"required_checks": "owner"}, "staging_to_production.required_checks"),
        (
            {"metric_bars": [{"metric": "auc", "op": "=>", "value": 0.8}]},
            "staging_to_production.metric_bars[0].op",
        ),
        (
            {"metric_bars": [{"metric": "auc", "op": ">=", "value": "0.8"}]},
            "staging_to_production.metric_bars[0].value",
        ),
        (
            {"metric_bars": [{"metric": "auc", "op": ">=", "value": True}]},
            "staging_to_production.metric_bars[0].value",
        ),
        (
            {"metric_bars": [{"metric": "auc", "op": ">=", "value": float("nan")}]},
            "staging_to_production.metric_bars[0].value",
        ),
        (
            {"metric_bars": [{"metric": "auc", "op": ">=", "value": float("inf")}]},
            "staging_to_production.metric_bars[0].value",
        ),
        (
            {"metric_bars": [{"metric": "auc", "op": ">=", "value": 10**400}]},
            "staging_to_production.metric_bars[0].value",
        ),
        (
            {"metric_bars": [{"metric": "9auc", "op": ">=", "value": 0.8}]},
            "staging_to_production.metric_bars[0].metric",
        ),
        (
            {"metric_bars": [{"metric": "auc", "op": ">=", "value": 0.8, "unit": "%"}]},
            "staging_to_production.metric_bars[0].unit",
        ),
        ({"metric_bars": {"auc": 0.8}}, "staging_to_production.metric_bars"),
        (
            {"baseline": [{"metric": "auc", "tolerance": -0.01}]},
            "staging_to_production.baseline[0].tolerance",
        ),
        (
            {"baseline": [{"metric": "auc", "tolerance": float("nan")}]},
            "staging_to_production.baseline[0].tolerance",
        ),
        ({"baseline": [{"metric": "auc", "relative": "yes"}]}, "staging_to_production.baseline[0].relative"),
        ({"baseline": [{"metric": "auc", "direction": "up"}]}, "staging_to_production.baseline[0].direction"),
        ({"baseline": [{"metric": "auc"}, {"metric": "auc"}]}, "staging_to_production.baseline[1].metric"),
        ({"slices": {"scope": "some"}}, "staging_to_production.slices.scope"),
        ({"slices": {"slices": ["EU"]}}, "staging_to_production.slices.slices[0]"),
        ({"slices": {"slices": ["region=EU,"]}}, "staging_to_production.slices.slices[0]"),
        ({"slices": {"scope": "listed"}}, "staging_to_production.slices.slices"),
        ({"slices": {"scope": "listed", "slices": []}}, "staging_to_production.slices.slices"),
        ({"slices": {"min_samples": 0}}, "staging_to_production.slices.min_samples"),
        ({"slices": {"min_samples": 10.5}}, "staging_to_production.slices.min_samples"),
        ({"slices": {"max_worsening": -1}}, "staging_to_production.slices.max_worsening"),
        ({"slices": {"metrics": ["auc", ""]}}, "staging_to_production.slices.metrics[1]"),
        ({"slices": {"sample_min": 10}}, "staging_to_production.slices.sample_min"),
        ({"slices": "all"}, "staging_to_production.slices"),
        ({"latency_p95_ms_max": -1}, "staging_to_production.latency_p95_ms_max"),
        ({"latency_p95_ms_max": "20ms"}, "staging_to_production.latency_p95_ms_max"),
        ({"cost_per_1k_max": float("nan")}, "staging_to_production.cost_per_1k_max"),
        ({"required_card_sections": ["task", "poetry"]}, "staging_to_production.required_card_sections[1]"),
        (
            {"required_artifact_kinds": ["weights", "pickle"]},
            "staging_to_production.required_artifact_kinds[1]",
        ),
        ({"signoffs": {"count": 11, "roles": ["approver"]}}, "staging_to_production.signoffs.count"),
        ({"signoffs": {"count": -1}}, "staging_to_production.signoffs.count"),
        ({"signoffs": {"count": True}}, "staging_to_production.signoffs.count"),
        ({"signoffs": {"count": 1, "roles": ["approver", "ceo"]}}, "staging_to_production.signoffs.roles[1]"),
        ({"signoffs": {"count": 1, "roles": []}}, "staging_to_production.signoffs.roles"),
        ({"signoffs": {"count": 1, "quorum": 2}}, "staging_to_production.signoffs.quorum"),
        ({"allow_first_production": "true"}, "staging_to_production.allow_first_production"),
    ],
)
def test_it_names_the_path_of_each_bad_field(fields, path):
    errors = errors_of(rules_with(**fields))

    assert list(errors) == [path]
    assert errors[path][0]


def test_it_reports_every_bad_field_at_once():
    errors = errors_of(
        {
            "draft_to_staging": {"required_checks": ["vibes"]},
            "staging_to_production": {
                "metric_bars": [{"metric": "auc", "op": "~", "value": 1}],
                "signoffs": {"count": 11},
            },
        }
    )

    assert set(errors) == {
        "draft_to_staging.required_checks[0]",
        "staging_to_production.metric_bars[0].op",
        "staging_to_production.signoffs.count",
    }


def test_it_says_which_names_are_allowed():
    errors = errors_of(rules_with(required_checks=["vibes"]))

    message = errors["staging_to_production.required_checks[0]"][0]
    assert "'vibes'" in message
    assert all(name in message for name in Check.ALL)


def test_two_bad_baseline_metric_names_are_not_reported_as_a_duplicate():
    errors = errors_of(rules_with(baseline=[{"metric": "9a"}, {"metric": "9b"}]))

    assert set(errors) == {
        "staging_to_production.baseline[0].metric",
        "staging_to_production.baseline[1].metric",
    }
    assert all("two baseline rules" not in message for messages in errors.values() for message in messages)


def test_no_signoffs_needs_no_roles():
    rules = policy_parse(rules_with(signoffs={"count": 0, "roles": []}))

    assert rules.staging_to_production.signoffs == SignoffRule(count=0, roles=())


def test_it_reads_a_missing_baseline_tolerance_as_zero():
    rules = policy_parse(rules_with(baseline=[{"metric": "auc"}]))

    assert rules.staging_to_production.baseline == (BaselineRule("auc"),)


def test_the_warnings_name_metrics_and_slices_no_version_reports():
    rules = policy_parse(
        rules_with(
            metric_bars=[
                {"metric": "auc", "op": ">=", "value": 0.8},
                {"metric": "acu", "op": ">=", "value": 0.8},
            ],
            baseline=[{"metric": "log_los"}],
            slices={"scope": "listed", "slices": ["region=EU", "region=XX"], "metrics": ["recal"]},
        )
    )

    warnings = policy_warnings(rules, known_metrics={"auc", "log_loss"}, known_slices={"region=EU"})

    assert warnings == [
        "staging_to_production: no version reports a metric called 'acu'.",
        "staging_to_production: no version reports a metric called 'log_los'.",
        "staging_to_production: no version reports a metric called 'recal'.",
        "staging_to_production: no version reports the slice 'region=XX'.",
    ]


def test_the_warnings_are_empty_when_every_name_is_known():
    rules = policy_parse(rules_with(metric_bars=[{"metric": "auc", "op": ">=", "value": 0.8}]))

    assert policy_warnings(rules, known_metrics={"auc"}, known_slices=set()) == []


def test_a_revision_that_does_not_say_what_missing_slices_mean_reads_as_the_gate_judged_them_before():
    rules = policy_parse({"draft_to_staging": {}, "staging_to_production": {}})

    assert rules.draft_to_staging.missing_slices == "warn"
    assert rules.staging_to_production.missing_slices == "fail"
    assert DEFAULT_RULES.draft_to_staging.missing_slices == "warn"
    assert DEFAULT_RULES.staging_to_production.missing_slices == "fail"


@pytest.mark.parametrize("value", ["fail", "warn"])
def test_each_move_says_what_missing_slices_mean(value):
    rules = policy_parse(
        {"draft_to_staging": {"missing_slices": value}, "staging_to_production": {"missing_slices": value}}
    )

    assert rules.draft_to_staging.missing_slices == rules.staging_to_production.missing_slices == value
    assert rules.as_data()["draft_to_staging"]["missing_slices"] == value


@pytest.mark.parametrize("value", ["worse", "", 1, True, ["fail"]])
def test_it_refuses_missing_slices_other_than_fail_or_warn(value):
    errors = errors_of({"draft_to_staging": {}, "staging_to_production": {"missing_slices": value}})

    assert errors == {
        "staging_to_production.missing_slices": [
            "Use 'fail' (a slice production reports and the candidate does not fails the slices check) "
            "or 'warn' (it is a warning)."
        ]
    }


def test_checks_without_a_rule_are_named():
    assert checks_without_rule(DEFAULT_RULES.staging_to_production) == (
        Check.METRIC_BARS,
        Check.BASELINE,
        Check.LATENCY,
        Check.COST,
    )
