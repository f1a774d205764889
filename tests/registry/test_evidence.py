"""`evidence_parse`: one parser for every door. Plain data in, frozen values or InvalidInput naming each bad
field by its path out, and never a crash or a database query (these tests have no database)."""

import math
from decimal import Decimal

import pytest

from tests.factories import evidence_payload
from warehouse.errors import InvalidInput
from warehouse.registry.evidence import (
    ArtifactIn,
    Evidence,
    MetricIn,
    SliceIn,
    evidence_parse,
)

REGISTRATION_ONLY = frozenset({"card", "model"})


def parse(payload):
    return evidence_parse(payload, other_fields=REGISTRATION_ONLY)


def refused_fields(payload) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as refused:
        parse(payload)
    return refused.value.errors


def test_it_reads_a_complete_registration():
    evidence = parse(evidence_payload(slices=2))

    assert isinstance(evidence, Evidence)
    assert evidence.artifacts[0] == ArtifactIn(
        name="model.onnx",
        kind="weights",
        uri="s3://models/fraud/model.onnx",
        sha256="ab" * 32,
        size_bytes=123456,
    )
    assert evidence.evaluation.metrics == (
        MetricIn(name="auc", value=0.91, direction="higher"),
        MetricIn(name="log_loss", value=0.21, direction="lower"),
    )
    assert evidence.evaluation.slices[1] == SliceIn(
        slice_key="region=r1", metric="auc", value=0.8001, sample_count=101
    )
    assert evidence.profile.cost_per_1k_predictions == Decimal("0.012500")
    assert evidence.source_run.git_commit == "0123456789abcdef0123"
    with pytest.raises(AttributeError):
        evidence.description = "changed"  # frozen


def test_it_normalises_what_it_may():
    payload = evidence_payload()
    payload["artifacts"][0].update(sha256="AB" * 32, size_bytes="123", name="  model.onnx  ")
    payload["artifacts"][1]["size_bytes"] = 512.0
    payload["evaluation"]["metrics"] = [
        {"name": "lift", "value": "1.5", "direction": "MAX"},
        {"name": "latency_error", "value": 3, "direction": "min"},
    ]
    del payload["profile"]["currency"]

    evidence = parse(payload)

    assert (evidence.artifacts[0].sha256, evidence.artifacts[0].size_bytes, evidence.artifacts[0].name) == (
        "ab" * 32,
        123,
        "model.onnx",
    )
    assert evidence.artifacts[1].size_bytes == 512
    assert [(m.value, m.direction) for m in evidence.evaluation.metrics] == [(1.5, "higher"), (3.0, "lower")]
    assert evidence.profile.currency == "USD"


def test_it_lets_optional_evidence_be_left_out():
    evidence = parse({"artifacts": evidence_payload()["artifacts"]})

    assert (evidence.source_run, evidence.evaluation, evidence.profile, evidence.description) == (
        None,
        None,
        None,
        "",
    )


def test_it_lists_every_problem_at_once():
    payload = evidence_payload()
    payload["artifacts"][0]["kind"] = "pickle"
    payload["artifacts"][1]["sha256"] = "xyz"
    payload["evaluation"]["metrics"][0]["value"] = math.nan
    payload["profile"]["latency_p99_ms"] = 1.0
    payload["colour"] = "blue"

    errors = refused_fields(payload)

    assert set(errors) == {
        "artifacts[0].kind",
        "artifacts[1].sha256",
        "evaluation.metrics[0].value",
        "profile.latency_p95_ms",
        "colour",
    }
    assert errors["profile.latency_p95_ms"] == ["Percentiles must not decrease: p50 ≤ p95 ≤ p99."]


@pytest.mark.parametrize("body", [None, [], "artifacts", 42])
def test_it_refuses_a_body_that_is_not_an_object(body):
    assert "body" in refused_fields(body)


# (id, the value, the refusal's words)
NOT_NUMBERS = [
    ("nan", math.nan, "finite"),
    ("infinity", math.inf, "finite"),
    ("minus-infinity", -math.inf, "finite"),
    ("infinity-text", "Infinity", "finite"),
    ("nan-text", "NaN", "finite"),
    ("bool", True, "number"),
    ("list", [0.9], "number"),
    ("words", "high", "number"),
    # A JSON integer of 400 digits is valid JSON, and too large for a float.
    ("huge-integer", 10**400, "number"),
]


@pytest.mark.parametrize(
    ("value", "words"), [case[1:] for case in NOT_NUMBERS], ids=[c[0] for c in NOT_NUMBERS]
)
def test_it_refuses_a_metric_value_that_is_not_a_finite_number(value, words):
    payload = evidence_payload()
    payload["evaluation"]["metrics"][0]["value"] = value

    errors = refused_fields(payload)

    assert list(errors) == ["evaluation.metrics[0].value"]
    assert words in errors["evaluation.metrics[0].value"][0]


NOT_SIZES = [
    ("negative", -1),
    ("fraction", 1.5),
    ("bool", False),
    ("superscript-digit", "²"),  # "²".isdigit() is true; int("²") raises
    ("arabic-indic-digits", "١٢"),
    ("five-thousand-digits", "9" * 5000),  # beyond int()'s digit limit
    ("beyond-bigint", 2**63),
    ("words", "large"),
]


@pytest.mark.parametrize("value", [case[1] for case in NOT_SIZES], ids=[case[0] for case in NOT_SIZES])
def test_it_refuses_a_size_that_is_not_a_whole_number_of_bytes(value):
    payload = evidence_payload()
    payload["artifacts"][0]["size_bytes"] = value

    assert list(refused_fields(payload)) == ["artifacts[0].size_bytes"]


@pytest.mark.parametrize("count", [0, -3, 2**31, 0.5, "many"])
def test_it_refuses_a_sample_count_the_column_cannot_hold(count):
    payload = evidence_payload()
    payload["evaluation"]["slices"][0]["sample_count"] = count

    assert list(refused_fields(payload)) == ["evaluation.slices[0].sample_count"]


def test_it_accepts_the_largest_sample_count_the_column_holds():
    payload = evidence_payload()
    payload["evaluation"]["slices"][0]["sample_count"] = 2**31 - 1

    assert parse(payload).evaluation.slices[0].sample_count == 2**31 - 1


def test_it_requires_a_direction_only_for_metrics_nobody_agrees_on():
    payload = evidence_payload()
    payload["evaluation"]["metrics"] = [
        {"name": "RMSE", "value": 3.0},
        {"name": "uplift", "value": 0.2},
        {"name": "calibration", "value": 0.2, "direction": "sideways"},
    ]

    errors = refused_fields(payload)

    assert set(errors) == {"evaluation.metrics[1].direction", "evaluation.metrics[2].direction"}
    assert "'higher' or 'lower'" in errors["evaluation.metrics[1].direction"][0]


@pytest.mark.parametrize(
    "key",
    [
        "region",
        "region=",
        "=EU",
        "region=EU,",
        "region=EU,,device=mobile",
        "region= EU",
        "region=EU=1",
        "re gion=EU",
    ],
)
def test_it_refuses_a_slice_key_that_is_not_key_value_pairs(key):
    payload = evidence_payload()
    payload["evaluation"]["slices"][0]["slice"] = key

    assert list(refused_fields(payload)) == ["evaluation.slices[0].slice"]


def test_it_accepts_a_slice_of_several_keys():
    payload = evidence_payload()
    payload["evaluation"]["slices"][0]["slice"] = "region=EU,device=mobile,age=65+"

    assert parse(payload).evaluation.slices[0].slice_key == "region=EU,device=mobile,age=65+"


def test_it_refuses_the_same_slice_and_metric_twice():
    payload = evidence_payload()
    payload["evaluation"]["slices"][2]["slice"] = "region=r0"

    errors = refused_fields(payload)

    assert list(errors) == ["evaluation.slices[2]"]
    assert "twice" in errors["evaluation.slices[2]"][0]


def test_it_refuses_the_same_artifact_name_twice():
    payload = evidence_payload()
    payload["artifacts"][1]["name"] = "model.onnx"

    assert list(refused_fields(payload)) == ["artifacts[1].name"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_p50_ms", -1),
        ("throughput_rps", -5),
        ("cost_per_1k_predictions", "-0.1"),
        ("cost_per_1k_predictions", "1e9"),
        ("currency", "usd"),
        ("currency", "EURO"),
        ("latency_p99_ms", None),
    ],
)
def test_it_refuses_a_profile_that_cannot_be(field, value):
    payload = evidence_payload()
    payload["profile"][field] = value

    assert f"profile.{field}" in refused_fields(payload)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "javascript:alert(1)"),
        ("url", "data:text/html,x"),
        ("url", "http://[::1"),
        ("url", "https://"),
        ("git_commit", "main"),
        ("run_id", ""),
        ("tracking_system", "x" * 51),
    ],
)
def test_it_refuses_a_source_run_that_cannot_be(field, value):
    payload = evidence_payload()
    payload["source_run"][field] = value

    assert list(refused_fields(payload)) == [f"source_run.{field}"]


@pytest.mark.parametrize("text", ["line\x00", "bell\x07", "escape\x1b[2J", "delete\x7f"])
def test_it_refuses_control_characters_in_a_description(text):
    assert list(refused_fields(evidence_payload(description=text))) == ["description"]


def test_it_keeps_line_breaks_and_tabs_in_a_description():
    assert parse(evidence_payload(description="Retrained.\n\n\tOctober data.\r\n")).description == (
        "Retrained.\n\n\tOctober data."
    )


def test_it_names_unknown_fields_at_every_level():
    payload = evidence_payload()
    payload["artifacts"][0]["md5"] = "x"
    payload["source_run"]["branch"] = "main"
    payload["evaluation"]["notes"] = "n"
    payload["evaluation"]["metrics"][0]["weight"] = 1
    payload["evaluation"]["slices"][0]["weight"] = 1
    payload["profile"]["gpu"] = "a100"

    assert set(refused_fields(payload)) == {
        "artifacts[0].md5",
        "source_run.branch",
        "evaluation.notes",
        "evaluation.metrics[0].weight",
        "evaluation.slices[0].weight",
        "profile.gpu",
    }


def test_it_reads_only_the_fields_the_caller_names_as_its_own():
    with pytest.raises(InvalidInput) as refused:
        evidence_parse(evidence_payload())  # the card is not evidence

    assert list(refused.value.errors) == ["card"]


def test_it_refuses_a_direction_that_contradicts_a_well_known_metric():
    payload = {
        "artifacts": [{"name": "m", "kind": "weights", "uri": "s3://b/m"}],
        "evaluation": {
            "dataset": "d",
            "metrics": [{"name": "log_loss", "value": 0.4, "direction": "higher"}],
        },
    }

    with pytest.raises(InvalidInput) as refused:
        evidence_parse(payload)

    message = "log_loss is lower-is-better by definition; 'higher' contradicts it."
    assert refused.value.errors == {"evaluation.metrics[0].direction": [message]}
