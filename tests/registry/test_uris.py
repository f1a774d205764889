"""Artifact URIs are stored and shown, never opened (DESIGN invariant 8): an allowlisted scheme, a location,
and no way of walking out of it in any spelling."""

import re
from urllib.parse import unquote, urlsplit

import pytest
from django.conf import settings
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from warehouse.registry.uris import UriRefused, is_web_link, uri_validate

ACCEPTED = [
    "s3://models/fraud/2026-10/model.onnx",
    "gs://ml-artifacts/churn/v3/weights.bin",
    "abfss://container@account.dfs.core.windows.net/models/model.pt",
    "https://models.example.com/fraud/model.onnx?versionId=3",
    "hdfs://namenode:8020/models/fraud/model.onnx",
    "warehouse://artifacts/fraud-scorer/7/model.onnx",
    "s3://models/fraud/..hidden/model.onnx",
    "s3://models/fraud/model..onnx",
    "s3://models",
]

# (id, URI)
REFUSED = [
    ("ftp", "ftp://files.example.com/model.onnx"),
    ("file", "file:///etc/passwd"),
    ("http", "http://models.example.com/model.onnx"),
    ("javascript", "javascript:alert(1)"),
    ("data", "data:application/octet-stream;base64,AAAA"),
    ("no-scheme", "models/fraud/model.onnx"),
    ("scheme-without-slashes", "s3:models/model.onnx"),
    ("no-host", "s3:///model.onnx"),
    ("port-without-host", "https://:443/model.onnx"),
    ("empty", ""),
    ("credentials", "s3://AKIA:secret@models/model.onnx"),
    ("user", "https://deploy@models.example.com/model.onnx"),
    ("azure-container-with-password", "abfss://container:secret@account.dfs.core.windows.net/m.pt"),
    ("user-under-another-scheme", "s3://container@models/model.onnx"),
    ("encoded-at", "https://deploy%40models.example.com/model.onnx"),
    ("password-without-at", "s3://user:secret/model.onnx"),
    ("dotdot", "s3://models/a/../b"),
    ("dotdot-at-end", "s3://models/a/.."),
    ("dot", "s3://models/./a"),
    ("encoded-dotdot", "s3://models/%2e%2e/b"),
    ("encoded-dotdot-upper", "s3://models/%2E%2E/b"),
    ("half-encoded-dotdot", "s3://models/.%2e/b"),
    ("double-encoded-dotdot", "s3://models/%252e%252e/b"),
    ("quadruple-encoded-dotdot", "s3://models/%2525252e%2525252e/b"),
    ("dotdot-encoded-slash", "s3://models/a/..%2fb"),
    ("dotdot-encoded-backslash", "s3://models/a/%2e%2e%5cb"),
    ("encoded-backslash", "s3://models/a%5cb"),
    ("backslashes", "s3://models\\..\\b"),
    ("dotdot-semicolon", "s3://models/a/..;/b"),
    ("dotdot-encoded-question-mark", "s3://models/a/%2e%2e%3f"),
    ("dotdot-in-query", "https://models.example.com/get?path=../../etc/passwd"),
    ("dotdot-in-fragment", "https://models.example.com/model#/../../x"),
    ("dotdot-host", "s3://../etc"),
    ("encoded-slash-in-host", "s3://models%2f..%2fsecrets/x"),
    ("empty-segment", "s3://models//model.onnx"),
    ("space", "s3://models/model onnx"),
    ("encoded-space", "s3://models/model%20v2.onnx"),
    ("tab", "s3://models/model\tonnx"),
    ("newline", "s3://models/model.onnx\nX-Injected: 1"),
    ("nul", "s3://models/model\x00.onnx"),
    ("encoded-nul", "s3://models/model%00.onnx"),
    ("delete", "s3://models/model\x7f.onnx"),
    ("c1-control", "s3://models/model\x85.onnx"),
    ("bidi-override", "s3://models/model\u202egnp.onnx"),
    ("zero-width-space", "s3://mod\u200bels/model.onnx"),
    ("broken-ipv6-host", "https://[::1/model.onnx"),
    ("host-changed-by-nfkc", "https://models.example.com\uff03@evil.example.com/x"),
    ("too-long", "s3://models/" + "a" * 2048),
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_it_accepts_storage_uris(uri):
    assert uri_validate(uri) == uri


@pytest.mark.parametrize("uri", [case[1] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_it_refuses_uris_that_are_not_a_plain_storage_location(uri):
    with pytest.raises(UriRefused) as refused:
        uri_validate(uri)

    assert str(refused.value)  # says why, in words a person can act on


def test_it_refuses_something_that_is_not_text():
    with pytest.raises(UriRefused):
        uri_validate(None)


def test_it_says_which_schemes_it_accepts():
    with pytest.raises(UriRefused) as refused:
        uri_validate("ftp://files.example.com/model.onnx")

    assert str(refused.value) == (
        "The scheme must be one of s3://, gs://, abfss://, https://, hdfs://, warehouse://."
    )


@pytest.mark.parametrize(
    ("url", "is_link"),
    [
        ("https://mlflow.example.com/#/experiments/1/runs/42", True),
        ("http://mlflow.internal/runs/42", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html,<script>", False),
        ("https:/mlflow.example.com", False),
        ("https://", False),
        ("http://[::1", False),  # malformed: plain text on the page, never an error
        ("https://example.com/a b", False),
        ("https://example.com\\@evil.example.com", False),
        (None, False),
    ],
)
def test_it_tells_which_links_may_be_clickable(url, is_link):
    assert is_web_link(url) is is_link


# --- Property: whatever is accepted is a plain location under an allowed scheme --------------------------


def _fully_decoded(text: str) -> str:
    while (decoded := unquote(text)) != text:
        text = decoded
    return text


def _segments(uri: str) -> list[str]:
    """Every segment of the URI once fully decoded, as anyone re-parsing it might split it."""
    return re.split(r"[/\\;?#&=]", _fully_decoded(uri))


# Pieces that make traversal in its many spellings, and plain pieces around them. No NUL: PostgreSQL
# refuses it in text, so nothing that could be stored may hold one (the validator refuses it anyway).
PIECES = st.sampled_from(
    [
        "..",
        ".",
        "/",
        "\\",
        "%2e",
        "%2E",
        "%2f",
        "%2F",
        "%5c",
        "%25",
        "%252e",
        "%3f",
        "%23",
        "%3b",
        ";",
        "?",
        "#",
        "&",
        "=",
        "@",
        ":",
        "%40",
        "a",
        "model.onnx",
        "v1",
        "-",
        "_",
        "~",
        "%20",
        " ",
        "\t",
        "%0a",
        "\u202e",
    ]
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
TAILS = st.lists(st.one_of(PIECES, TEXT), max_size=12).map("".join)
PREFIXES = st.sampled_from(
    [
        f"{scheme}://"
        for scheme in ("s3", "gs", "abfss", "https", "hdfs", "warehouse", "S3", "ftp", "file", "http")
    ]
    + ["s3://models/", "warehouse://artifacts/", "https://host.example.com/", "s3:", "javascript:", ""]
)


@hypothesis_settings(
    max_examples=600, database=None, suppress_health_check=[HealthCheck.too_slow], deadline=None
)
@given(uri=st.builds(str.__add__, PREFIXES, TAILS))
@example(uri="s3://models/%2525252e%2525252e/b")
@example(uri="s3://models/a/..;/b")
@example(uri="s3://models/a/%2e%2e%3fx")
@example(uri="https://models.example.com/get?p=../x")
@example(uri="abfss://container@account.dfs.core.windows.net/a/%2e%2e/b")
def test_every_accepted_uri_is_a_plain_location_under_an_allowed_scheme(uri):
    try:
        uri_validate(uri)
    except UriRefused:
        return

    parts = urlsplit(uri)
    assert parts.scheme.lower() in settings.ARTIFACT_URI_SCHEMES
    assert uri.lower().startswith(f"{parts.scheme.lower()}://")
    assert parts.hostname
    if parts.scheme.lower() == "abfss":  # abfss://container@account…: a container, never a password
        assert parts.password is None and "@" not in _fully_decoded(parts.hostname or "")
    else:
        assert "@" not in _fully_decoded(parts.netloc)
    segments = _segments(uri[len(parts.scheme) + 3 :])
    assert ".." not in segments and "." not in segments, segments
    assert "\\" not in _fully_decoded(uri)
    assert not re.search(r"[\x00-\x20\x7f-\x9f]", _fully_decoded(uri))


@hypothesis_settings(max_examples=300, database=None, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_it_answers_any_text_with_a_verdict_never_a_crash(text):
    for candidate in (text, f"s3://{text}", f"https://{text}", f"s3://models/{text}"):
        try:
            uri_validate(candidate)
        except UriRefused:
            pass
        assert is_web_link(candidate) in (True, False)
