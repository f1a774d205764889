"""Reading the webhook bodies: pure, no database."""

import json
from datetime import UTC, datetime

import pytest

from tests.incidents.conftest import (
    ALERTMANAGER_FIRING,
    GRAFANA_FIRING,
    GRAFANA_RESOLVED,
    example,
    example_bytes,
)
from warehouse.incidents.alerts import AlertPayloadError, alerts_parse


def parse_error(kind: str, body) -> str:
    with pytest.raises(AlertPayloadError) as raised:
        alerts_parse(kind, json.dumps(body).encode() if not isinstance(body, bytes) else body)
    return raised.value.message


def test_it_reads_the_alertmanager_example():
    [alert] = alerts_parse("alertmanager", example_bytes(ALERTMANAGER_FIRING))
    assert alert.status == "firing"
    assert alert.fingerprint == "8c1b2f0e5a7d9c34"
    assert alert.starts_at == datetime(2025, 3, 4, 10, 15, 30, 123000, tzinfo=UTC)
    assert alert.ends_at is None  # Go's zero time
    assert alert.labels["model_name"] == "fraud-scorer"
    assert alert.labels["model_version"] == "17"
    assert alert.alertname == "ModelPredictionDrift"
    assert alert.severity == "critical"
    assert alert.summary == "PSI drift 0.31 > 0.25 on fraud-scorer v17"
    assert alert.runbook_url == "https://runbooks.example.com/ml/drift"
    assert alert.generator_url.startswith("https://prometheus.example.com/graph?")
    assert alert.dashboard_url == "" and alert.values == {}


def test_it_reads_the_grafana_examples():
    latency, churn = alerts_parse("grafana", example_bytes(GRAFANA_FIRING))
    # +01:00 is kept as the same instant, in UTC.
    assert latency.starts_at == datetime(2025, 3, 4, 10, 2, tzinfo=UTC)
    assert latency.labels["model"] == "fraud-scorer"
    assert latency.summary == "p95 latency above 50 ms for 10m"  # no summary: the description
    assert latency.dashboard_url == "https://grafana.example.com/d/ml-serving?orgId=1"
    assert latency.panel_url.endswith("viewPanel=4")
    assert latency.silence_url.startswith("https://grafana.example.com/alerting/silence/new")
    assert latency.values == {"A": 61.25, "C": 1}
    assert "value=61.25" in latency.value_string
    assert churn.summary == "p95 latency above 50 ms on churn-predictor"

    [resolved] = alerts_parse("grafana", example_bytes(GRAFANA_RESOLVED))
    assert resolved.status == "resolved"
    assert resolved.key == latency.key
    assert resolved.ends_at == datetime(2025, 3, 4, 10, 41, tzinfo=UTC)


def test_it_reads_nanoseconds_and_offsets_as_go_writes_them():
    body = example(ALERTMANAGER_FIRING)
    body["alerts"][0]["startsAt"] = "2025-03-04T12:15:30.123456789+02:00"
    body["alerts"][0]["endsAt"] = "2025-03-04T10:20:00Z"
    [alert] = alerts_parse("alertmanager", json.dumps(body))
    assert alert.starts_at == datetime(2025, 3, 4, 10, 15, 30, 123456, tzinfo=UTC)
    assert alert.ends_at == datetime(2025, 3, 4, 10, 20, tzinfo=UTC)


def test_it_reads_an_empty_alert_list():
    body = example(ALERTMANAGER_FIRING)
    body["alerts"] = []
    assert alerts_parse("alertmanager", json.dumps(body)) == []


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"not json at all", "The body is not JSON"),
        (b"", "The body is not JSON"),
        (b"\xff\xfe\x00garbage", "The body is not JSON"),
        (b'{"version": "4", "alerts": [], "x": NaN}', "NaN is not a JSON value"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b"[1, 2]", "not an object (a list)"),
        (b'"text"', "not an object (a string)"),
    ],
)
def test_it_refuses_what_is_not_a_json_object(body, expected):
    assert expected in parse_error("alertmanager", body)


def test_it_refuses_an_unknown_or_missing_version():
    body = example(ALERTMANAGER_FIRING)
    body["version"] = "5"
    assert parse_error("alertmanager", body) == (
        'Unknown Alertmanager payload version "5": this endpoint reads version "4".'
    )
    body["version"] = 4
    assert "version 4:" in parse_error("alertmanager", body)
    del body["version"]
    assert "no `version`" in parse_error("alertmanager", body)

    grafana = example(GRAFANA_FIRING)
    grafana["version"] = "4"  # an Alertmanager body sent to the Grafana hook, say
    assert parse_error("grafana", grafana).startswith('Unknown Grafana payload version "4"')
    # Grafana's legacy (pre-unified) alerting webhook has no version at all.
    legacy = {"title": "[Alerting] Load", "ruleId": 1, "state": "alerting", "evalMatches": []}
    assert "legacy alerting webhook" in parse_error("grafana", legacy)
    # And a Grafana body is not an Alertmanager one.
    assert 'version "1"' in parse_error("alertmanager", example(GRAFANA_FIRING))


def test_it_refuses_a_body_without_a_list_of_alerts():
    body = example(ALERTMANAGER_FIRING)
    body["alerts"] = {"oops": 1}
    assert parse_error("alertmanager", body) == "`alerts` must be a list, not an object."
    del body["alerts"]
    assert "no `alerts`" in parse_error("alertmanager", body)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda alert: alert.pop("fingerprint"), "alerts[0] has no fingerprint"),
        (lambda alert: alert.update(fingerprint=""), "alerts[0] has no fingerprint"),
        (lambda alert: alert.update(fingerprint="f" * 129), "alerts[0].fingerprint is longer than 128"),
        (lambda alert: alert.update(startsAt="yesterday"), "alerts[0].startsAt is not a time: 'yesterday'"),
        (lambda alert: alert.update(startsAt="2025-13-40T10:00:00Z"), "alerts[0].startsAt is not a time"),
        (lambda alert: alert.update(startsAt="2025-03-04T10:00:00"), "alerts[0].startsAt is not a time"),
        (lambda alert: alert.pop("startsAt"), "alerts[0].startsAt is missing"),
        (lambda alert: alert.update(startsAt="0001-01-01T00:00:00Z"), "alerts[0].startsAt is the zero time"),
        (lambda alert: alert.update(endsAt="soon"), "alerts[0].endsAt is not a time"),
        (lambda alert: alert.update(status="pending"), 'alerts[0].status is "pending"'),
        (lambda alert: alert.update(labels=["a"]), "alerts[0].labels must be an object, not a list"),
        (lambda alert: alert.update(generatorURL=7), "alerts[0].generatorURL must be a string"),
        (lambda alert: alert["labels"].update(team="a\x00b"), "alerts[0].labels.team contains a NUL"),
        (lambda alert: alert["annotations"].update(summary="\ud800"), "lone surrogate"),
    ],
)
def test_it_names_what_is_wrong_with_an_alert(change, expected):
    body = example(ALERTMANAGER_FIRING)
    change(body["alerts"][0])
    assert expected in parse_error("alertmanager", body)


def test_it_names_which_alert_is_wrong():
    body = example(ALERTMANAGER_FIRING)
    body["alerts"].append("not an alert")
    assert parse_error("alertmanager", body) == "alerts[1] is a string, not an alert object."


def test_it_keeps_untrusted_text_exactly_as_given():
    body = example(ALERTMANAGER_FIRING)
    alert = body["alerts"][0]
    alert["annotations"]["summary"] = "<script>alert(1)</script>"
    alert["annotations"]["runbook_url"] = "javascript:alert(1)"
    alert["generatorURL"] = "http://169.254.169.254/latest/meta-data/"
    [parsed] = alerts_parse("alertmanager", json.dumps(body))
    assert parsed.summary == "<script>alert(1)</script>"
    assert parsed.runbook_url == "javascript:alert(1)"
    assert parsed.generator_url == "http://169.254.169.254/latest/meta-data/"
