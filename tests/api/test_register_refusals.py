"""Every bad registration gets a 400 naming each bad field and why, and nothing is written."""

import json
import math

import pytest

from tests.api.support import API, bearer, error_fields, written
from tests.factories import evidence_payload
from warehouse.api.http import MAX_BODY_BYTES

VERSIONS = "/models/{name}/versions"


def _json(payload) -> bytes:
    # Python writes NaN and Infinity as bare literals, which its own json.loads accepts: exactly what a
    # careless pipeline sends.
    return json.dumps(payload, allow_nan=True).encode()


def _with(**changes) -> dict:
    payload = evidence_payload()
    for dotted, value in changes.items():
        target = payload
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return payload


_DROP = object()


def _artifacts(*uris: str) -> list[dict]:
    return [
        {
            "name": f"file-{index}",
            "kind": "weights" if index == 0 else "other",
            "uri": uri,
            "sha256": "ab" * 32,
        }
        for index, uri in enumerate(uris)
    ]


def _padded_to(size: int) -> bytes:
    body = _json(evidence_payload())
    return body + b" " * (size - len(body))


# (id, model name in the URL, body bytes, content type, the field paths the answer must name)
CASES = [
    ("not-json", "fraud-scorer", b'{"artifacts": [', "application/json", {"body"}),
    ("not-utf8", "fraud-scorer", b'{"description": "\xff\xfe"}', "application/json", {"body"}),
    ("empty-body", "fraud-scorer", b"", "application/json", {"body"}),
    ("json-null", "fraud-scorer", b"null", "application/json", {"body"}),
    ("utf-16", "fraud-scorer", json.dumps(evidence_payload()).encode("utf-16"), "application/json", {"body"}),
    (
        "lone-surrogates-and-nul",
        "fraud-scorer",
        _json(
            _with(
                description="before \ud800 after",
                artifacts__0__name="weights\x00",
                evaluation__dataset="\udfff",
                evaluation__slices__0__name="slice \udbff",
            )
        ),
        "application/json",
        {"description", "artifacts[0].name", "evaluation.dataset", "evaluation.slices[0].name"},
    ),
    ("json-array", "fraud-scorer", _json([evidence_payload()]), "application/json", {"body"}),
    ("json-string", "fraud-scorer", b'"register me"', "application/json", {"body"}),
    ("nested-too-deep", "fraud-scorer", b"[" * 200_000 + b"]" * 200_000, "application/json", {"body"}),
    (
        "unknown-fields",
        "fraud-scorer",
        _json(
            _with(
                colour="blue",
                artifacts__0__md5="x",
                evaluation__notes="n",
                profile__gpu="a100",
                source_run__branch="main",
                evaluation__slices__0__weight=1,
                model={"owner": "carol"},
            )
        ),
        "application/json",
        {
            "colour",
            "artifacts[0].md5",
            "evaluation.notes",
            "profile.gpu",
            "source_run.branch",
            "evaluation.slices[0].weight",
            "model.owner",
        },
    ),
    ("missing-artifacts", "fraud-scorer", _json(_with(artifacts=_DROP)), "application/json", {"artifacts"}),
    ("no-artifacts", "fraud-scorer", _json(_with(artifacts=[])), "application/json", {"artifacts"}),
    (
        "artifacts-not-a-list",
        "fraud-scorer",
        _json(_with(artifacts={"name": "x"})),
        "application/json",
        {"artifacts"},
    ),
    (
        "artifact-missing-fields",
        "fraud-scorer",
        _json(_with(artifacts=[{"sha256": "ab" * 32}])),
        "application/json",
        {"artifacts[0].name", "artifacts[0].kind", "artifacts[0].uri"},
    ),
    (
        "bad-uri-schemes",
        "fraud-scorer",
        _json(
            _with(
                artifacts=_artifacts(
                    "file:///etc/passwd",
                    "http://10.0.0.1/model.onnx",
                    "ftp://host/model.onnx",
                    "javascript:alert(1)",
                    "s3:bucket/model.onnx",
                    "s3://user:secret@bucket/model.onnx",
                    "model.onnx",
                )
            )
        ),
        "application/json",
        {f"artifacts[{index}].uri" for index in range(7)},
    ),
    (
        "uri-traversal",
        "fraud-scorer",
        _json(
            _with(
                artifacts=_artifacts(
                    "s3://bucket/models/../secrets/key",
                    "s3://bucket/%2e%2e/secrets",
                    "s3://bucket/%252E%252E/secrets",
                    "warehouse://artifacts/../../etc/passwd",
                    "gs://bucket/./model.onnx",
                    "s3://bucket//model.onnx",
                    "s3://bucket/a%5c..%5cb",
                    "s3://bucket/model onnx",
                )
            )
        ),
        "application/json",
        {f"artifacts[{index}].uri" for index in range(8)},
    ),
    (
        "bad-kind-and-duplicate-names",
        "fraud-scorer",
        _json(_with(artifacts__0__kind="binary", artifacts__1__name="model.onnx")),
        "application/json",
        {"artifacts[0].kind", "artifacts[1].name"},
    ),
    (
        "sha256-not-hex",
        "fraud-scorer",
        _json(_with(artifacts__0__sha256="z" * 64)),
        "application/json",
        {"artifacts[0].sha256"},
    ),
    (
        "sha256-too-short",
        "fraud-scorer",
        _json(_with(artifacts__0__sha256="ab" * 31)),
        "application/json",
        {"artifacts[0].sha256"},
    ),
    (
        "sha256-too-long",
        "fraud-scorer",
        _json(_with(artifacts__1__sha256="ab" * 33)),
        "application/json",
        {"artifacts[1].sha256"},
    ),
    (
        "nan-and-infinity",
        "fraud-scorer",
        _json(
            _with(
                evaluation__metrics__0__value=math.nan,
                evaluation__slices__1__value=math.inf,
                profile__latency_p99_ms=-math.inf,
                evaluation__slices__2__sample_count=math.nan,
                artifacts__0__size_bytes=math.inf,
                profile__throughput_rps=math.inf,
                profile__cost_per_1k_predictions=math.nan,
                card={"task": math.nan},
            )
        ),
        "application/json",
        {
            "evaluation.metrics[0].value",
            "evaluation.slices[1].value",
            "profile.latency_p99_ms",
            "evaluation.slices[2].sample_count",
            "artifacts[0].size_bytes",
            "profile.throughput_rps",
            "profile.cost_per_1k_predictions",
            "card.task",
        },
    ),
    (
        "number-overflowing-to-infinity",
        "fraud-scorer",
        _json(evidence_payload()).replace(b'"value": 0.91', b'"value": 1e999'),
        "application/json",
        {"evaluation.metrics[0].value"},
    ),
    (
        "duplicate-slices",
        "fraud-scorer",
        _json(_with(evaluation__slices__1__slice="region=r0")),
        "application/json",
        {"evaluation.slices[1]"},
    ),
    (
        "bad-slice-key",
        "fraud-scorer",
        _json(_with(evaluation__slices__0__slice="EU")),
        "application/json",
        {"evaluation.slices[0].slice"},
    ),
    (
        "metric-without-direction",
        "fraud-scorer",
        _json(_with(evaluation__metrics=[{"name": "approval_rate", "value": 0.9}])),
        "application/json",
        {"evaluation.metrics[0].direction"},
    ),
    (
        "decreasing-percentiles",
        "fraud-scorer",
        _json(_with(profile__latency_p95_ms=1.0)),
        "application/json",
        {"profile.latency_p95_ms"},
    ),
    (
        "card-unknown-section",
        "fraud-scorer",
        _json(_with(card={"task": "ok", "summary": "?"})),
        "application/json",
        {"card.summary"},
    ),
    (
        "card-section-not-text",
        "fraud-scorer",
        _json(_with(card={"task": ["a"]})),
        "application/json",
        {"card.task"},
    ),
    ("card-neither-text-nor-object", "fraud-scorer", _json(_with(card=42)), "application/json", {"card"}),
    ("model-name-with-capitals", "Fraud_Scorer", _json(evidence_payload()), "application/json", {"model"}),
    ("model-name-with-a-dot", "fraud.scorer", _json(evidence_payload()), "application/json", {"model"}),
    ("model-name-reserved", "admin", _json(evidence_payload()), "application/json", {"model"}),
    ("model-name-too-long", "a" * 65, _json(evidence_payload()), "application/json", {"model"}),
    ("model-name-ends-with-hyphen", "scorer-", _json(evidence_payload()), "application/json", {"model"}),
    (
        "unknown-team",
        "new-scorer",
        _json(_with(model={"team": "no-such-team"})),
        "application/json",
        {"model.team"},
    ),
    ("model-info-not-an-object", "new-scorer", _json(_with(model="payments")), "application/json", {"model"}),
    (
        "many-problems-at-once",
        "fraud-scorer",
        _json(
            _with(
                artifacts__0__sha256="nope",
                artifacts__1__uri="file:///x",
                evaluation__metrics__1__value="n/a",
                card={"bogus": "x"},
            )
        ),
        "application/json",
        {"artifacts[0].sha256", "artifacts[1].uri", "evaluation.metrics[1].value", "card.bogus"},
    ),
]


@pytest.mark.parametrize(
    ("name", "body", "content_type", "fields"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_it_refuses_bad_input_naming_each_field(
    client, contract, model, contributor, name, body, content_type, fields
):
    headers = bearer(contributor)
    before = written()

    response = client.post(f"{API}/models/{name}/versions", data=body, content_type=content_type, **headers)

    assert response.status_code == 400, response.content[:500]
    answer = contract.check(response, VERSIONS, "post")
    assert answer["error"]["code"] == "invalid"
    named = error_fields(response)
    assert set(named) == fields, named
    for path, reasons in named.items():
        assert reasons and all(isinstance(reason, str) and reason for reason in reasons), path
    assert written() == before


# A body refused before it is read as JSON: (id, body, content type, status, code).
UNREAD = [
    ("wrong-content-type", _json(evidence_payload()), "text/plain", 415, "unsupported_media_type"),
    ("form-content-type", b"artifacts=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("multipart", b"--x--", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
    (
        "latin-1",
        _json(evidence_payload()),
        "application/json; charset=latin-1",
        415,
        "unsupported_media_type",
    ),
    ("over-5-mb", _padded_to(MAX_BODY_BYTES + 1), "application/json", 413, "too_large"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [case[1:] for case in UNREAD],
    ids=[case[0] for case in UNREAD],
)
def test_it_refuses_a_body_it_does_not_read(
    client, contract, model, contributor, body, content_type, status, code
):
    headers = bearer(contributor)
    before = written()

    response = client.post(
        f"{API}/models/fraud-scorer/versions", data=body, content_type=content_type, **headers
    )

    assert response.status_code == status, response.content[:500]
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == code
    assert set(error_fields(response)) == {"body"}
    assert written() == before


def test_a_json_type_with_the_json_suffix_and_a_utf8_charset_is_json(client, model, contributor):
    for content_type in ("application/vnd.warehouse+json", "application/json; charset=UTF-8"):
        response = client.post(
            f"{API}/models/fraud-scorer/versions",
            data=_json(evidence_payload()),
            content_type=content_type,
            **bearer(contributor),
        )
        assert response.status_code == 201, (content_type, response.content[:500])


def test_it_says_why_a_field_is_wrong(client, model, contributor):
    body = _json(
        _with(
            artifacts__0__sha256="ab" * 31,
            artifacts__1__uri="s3://bucket/../x",
            evaluation__metrics__0__value=math.nan,
        )
    )
    assert b'"value": NaN' in body  # the bare literal, not JSON, yet Python's json.loads reads it
    response = client.post(
        f"{API}/models/fraud-scorer/versions",
        data=body,
        content_type="application/json",
        **bearer(contributor),
    )

    fields = error_fields(response)
    assert fields["artifacts[0].sha256"] == ["Must be 64 hexadecimal characters (a SHA-256 digest)."]
    assert "'..'" in fields["artifacts[1].uri"][0]
    assert fields["evaluation.metrics[0].value"] == ["Must be a finite number."]


def test_a_body_between_djangos_limit_and_5_mb_is_read(client, model, contributor):
    # Django's own request.body limit is 2.5 MB; the API's documented limit is 5 MB.
    body = _padded_to(4 * 1024 * 1024)

    response = client.post(
        f"{API}/models/fraud-scorer/versions",
        data=body,
        content_type="application/json",
        **bearer(contributor),
    )

    assert response.status_code == 201, response.content[:300]


def test_json_with_a_charset_is_json(client, model, contributor):
    response = client.post(
        f"{API}/models/fraud-scorer/versions",
        data=_json(evidence_payload()),
        content_type="application/json; charset=utf-8",
        **bearer(contributor),
    )

    assert response.status_code == 201, response.content[:300]
