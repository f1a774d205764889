"""`signature_verify`: what a receiver runs on each request."""

from warehouse.webhooks.signing import signature_compute, signature_verify

SECRET = "whsec_test-secret"
BODY = b'{"event":"version.registered","id":"1"}'
NOW = 1_800_000_000


def test_it_accepts_the_signature_of_the_body_and_timestamp():
    signature = signature_compute(SECRET, NOW, BODY)

    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert signature_verify(SECRET, str(NOW), BODY, signature, now=NOW)
    assert signature_verify(SECRET, NOW, BODY.decode(), signature, now=NOW + 299)


def test_it_refuses_another_secret_body_or_timestamp():
    signature = signature_compute(SECRET, NOW, BODY)

    assert not signature_verify("whsec_other", NOW, BODY, signature, now=NOW)
    assert not signature_verify(SECRET, NOW, BODY + b" ", signature, now=NOW)
    assert not signature_verify(SECRET, NOW + 1, BODY, signature, now=NOW)


def test_it_refuses_an_old_or_future_timestamp():
    signature = signature_compute(SECRET, NOW, BODY)

    assert not signature_verify(SECRET, NOW, BODY, signature, now=NOW + 301)
    assert not signature_verify(SECRET, NOW, BODY, signature, now=NOW - 301)
    assert signature_verify(SECRET, NOW, BODY, signature, tolerance=3600, now=NOW + 3000)


def test_it_refuses_garbage():
    assert not signature_verify(SECRET, "yesterday", BODY, "sha256=00", now=NOW)
    assert not signature_verify(SECRET, NOW, BODY, "", now=NOW)
    assert not signature_verify(SECRET, NOW, BODY, "sha256=ünï", now=NOW)
