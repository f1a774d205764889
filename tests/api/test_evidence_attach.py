"""PUT /api/v1/models/<name>/versions/<n>/evidence: the evidence of a version registered without it,
attached once with the evidence part of a registration body, then immutable."""

import json

from tests.api.support import API, bearer, get, locked_out, own_statuses
from tests.factories import evidence_payload, version_register_pending_for_tests
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import Artifact, ModelVersion, SliceMetric

PATH = "/models/{name}/versions/{number}/evidence"
EVIDENCE = {
    key: value
    for key, value in evidence_payload().items()
    if key in ("description", "artifacts", "evaluation", "profile")
}


def put_json(client, path: str, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.put(f"{API}{path}", data=data, content_type="application/json", **extra)


def counts() -> dict[str, int]:
    return {
        table.__name__: table.objects.count() for table in (Artifact, SliceMetric, ModelVersion, AuditEvent)
    }


def test_it_attaches_the_evidence_and_answers_the_version_as_get_does(client, contract, model, contributor):
    pending = version_register_pending_for_tests(actor=contributor, model=model)
    reader = bearer(contributor)
    before = get(client, "/models/fraud-scorer/versions/2", **reader).json()
    assert (before["evidence"], before["artifacts"]) == ("pending", [])
    assert before["source_uri"] == pending.source_uri

    response = put_json(client, "/models/fraud-scorer/versions/2/evidence", EVIDENCE, **reader)

    assert response.status_code == 200, response.content
    body = contract.check(response, PATH, "put")
    assert body == get(client, "/models/fraud-scorer/versions/2", **reader).json()
    assert body["evidence"] == "attached"
    assert [artifact["name"] for artifact in body["artifacts"]] == ["config.json", "model.onnx"]
    assert body["evaluation"]["dataset"] == "payments-holdout"


def test_a_second_attach_is_409_on_the_record_and_writes_nothing(client, contract, model, contributor):
    version_register_pending_for_tests(actor=contributor, model=model)
    writer = bearer(contributor)
    put_json(client, "/models/fraud-scorer/versions/2/evidence", EVIDENCE, **writer)
    before = counts()

    response = put_json(client, "/models/fraud-scorer/versions/2/evidence", EVIDENCE, **writer)

    assert response.status_code == 409
    assert contract.check(response, PATH, "put")["error"]["code"] == "evidence_already_attached"
    after = counts()
    assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1
    assert after == before
    assert AuditEvent.objects.filter(action="version.evidence_attach_refused").count() == 1


def test_a_bad_body_is_400_naming_the_fields_and_writes_nothing(client, contract, model, contributor):
    version_register_pending_for_tests(actor=contributor, model=model)
    writer = bearer(contributor)
    before = counts()
    bad = {**EVIDENCE, "artifacts": [{**EVIDENCE["artifacts"][0], "sha256": "nope"}], "card": {}}

    response = put_json(client, "/models/fraud-scorer/versions/2/evidence", bad, **writer)

    assert response.status_code == 400
    fields = contract.check(response, PATH, "put")["error"]["fields"]
    assert "artifacts[0].sha256" in fields and "card" in fields
    assert counts() == before


def test_a_person_who_may_not_register_is_refused_on_the_record(client, contract, model, contributor, viewer):
    version_register_pending_for_tests(actor=contributor, model=model)

    response = put_json(client, "/models/fraud-scorer/versions/2/evidence", EVIDENCE, **bearer(viewer))

    assert response.status_code == 403
    contract.check(response, PATH, "put")
    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).exists()
    assert not Artifact.objects.filter(version__number=2, version__model=model).exists()


def test_a_retry_with_the_same_key_attaches_once(client, contract, model, contributor):
    version_register_pending_for_tests(actor=contributor, model=model)
    headers = {**bearer(contributor), "HTTP_IDEMPOTENCY_KEY": "attach-1"}
    first = put_json(client, "/models/fraud-scorer/versions/2/evidence", EVIDENCE, **headers)
    before = counts()

    again = put_json(client, "/models/fraud-scorer/versions/2/evidence", EVIDENCE, **headers)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert counts() == before


def test_every_documented_answer_is_produced(client, contract, model, contributor, viewer, outsider):
    version_register_pending_for_tests(actor=contributor, model=model)
    seen: set[int] = set()
    path = "/models/fraud-scorer/versions/2/evidence"
    writer = bearer(contributor)
    for body, where, headers in (
        ({"artifacts": []}, path, writer),
        (EVIDENCE, path, {}),
        (EVIDENCE, path, bearer(viewer)),
        (EVIDENCE, path, bearer(outsider)),
        (EVIDENCE, "/models/fraud-scorer/versions/9/evidence", writer),
        (EVIDENCE, path, locked_out(client, contributor)),
        (EVIDENCE, path, writer),
        (EVIDENCE, path, writer),
    ):
        response = put_json(client, where, body, **headers)
        contract.check(response, PATH, "put")
        seen.add(response.status_code)

    operation = contract.document["paths"][PATH]["put"]
    assert {int(status) for status in own_statuses(operation)} == seen
