"""The register page takes the API's JSON body whole, pasted or uploaded, and reads it as the API does; and
it starts that JSON from a previous version's evidence."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.api.support import bearer, post_json, written
from tests.factories import evidence_payload, version_register_for_tests
from warehouse.api.http import MAX_BODY_BYTES
from warehouse.audit.models import AuditEvent
from warehouse.cards.registration import REGISTRATION_DOCUMENT_MAX_BYTES, registration_of
from warehouse.registry.models import ModelVersion, Stage

URL = reverse("cards:register")


def pasted(document, model: str = "fraud-scorer") -> dict:
    text = document if isinstance(document, str) else json.dumps(document)
    return {"via": "document", "json-model": model, "json-document": text}


def uploaded(body: bytes, model: str = "fraud-scorer") -> dict:
    upload = SimpleUploadedFile("registration.json", body, content_type="application/json")
    return {"via": "document", "json-model": model, "json-document_file": upload}


def evidence(version: ModelVersion) -> dict:
    return {key: value for key, value in registration_of(version).items() if key != "description"}


# --- Registering the API's JSON -------------------------------------------------------------------------


def test_pasted_json_registers_the_version_the_api_would(client, model, contributor):
    client.force_login(contributor)
    payload = evidence_payload()

    response = client.post(URL, pasted(payload))

    assert response.status_code == 302
    assert response["Location"] == reverse("registry:version", args=[model.name, 2])
    by_page = model.versions.get(number=2)
    assert by_page.stage == Stage.DRAFT and by_page.registered_by == contributor
    assert by_page.description == payload["description"]
    assert AuditEvent.objects.get(action="version.registered", target_label="fraud-scorer/v2").via == "web"
    # The API, given the same body, registers the same evidence and card.
    api = post_json(client, f"/models/{model.name}/versions", payload, **bearer(contributor))
    assert api.status_code == 201, api.content
    assert evidence(by_page) == evidence(model.versions.get(number=3))
    assert by_page.card.current.sections == payload["card"]
    assert "Registered fraud-scorer/v2 in Draft." in client.get(response["Location"]).content.decode()


def test_an_uploaded_json_file_registers_too(client, model, contributor):
    client.force_login(contributor)
    response = client.post(URL, uploaded(json.dumps(evidence_payload(slices=1)).encode()))
    assert response.status_code == 302
    assert model.versions.get(number=2).evaluation.slices.count() == 1


def test_the_json_can_create_a_new_model_with_its_team(client, contributor, team):
    client.force_login(contributor)
    payload = evidence_payload(model={"description": "Churn.", "team": team.name})
    response = client.post(URL, pasted(payload, model="churn-predictor"))
    assert response.status_code == 302
    version = ModelVersion.objects.get(model__name="churn-predictor")
    assert version.number == 1 and version.model.team == team and version.model.description == "Churn."


# --- Refused: the API's answer, field by field, and nothing written -------------------------------------


def _metric_as_text(payload: dict) -> dict:
    payload["evaluation"]["metrics"][0]["value"] = "0.9"  # the schema's refusal: the parser would take it
    return payload


def _second_artifact_bad(payload: dict) -> dict:
    payload["artifacts"][1]["sha256"] = "abc"
    payload["artifacts"][1]["colour"] = "red"
    return payload


def _duplicate_slice(payload: dict) -> dict:
    payload["evaluation"]["slices"][1] = dict(payload["evaluation"]["slices"][0])  # the parser's refusal
    return payload


def _no_artifacts(payload: dict) -> dict:
    payload["artifacts"] = []
    payload["profile"]["latency_p95_ms"] = 1.0
    return payload


REFUSED = {
    "a number as text": lambda: json.dumps(_metric_as_text(evidence_payload())),
    "bad digest and an unknown field": lambda: json.dumps(_second_artifact_bad(evidence_payload())),
    "a slice given twice": lambda: json.dumps(_duplicate_slice(evidence_payload())),
    "no artifacts, percentiles out of order": lambda: json.dumps(_no_artifacts(evidence_payload())),
    "not JSON": lambda: '{"artifacts": [',
    "not an object": lambda: "[]",
    "a NUL character": lambda: json.dumps(evidence_payload()).replace("model.onnx", "model\\u0000.onnx", 1),
    "a lone surrogate": lambda: json.dumps(evidence_payload()).replace("run-42", "run-\\ud800", 1),
    "an unknown team": lambda: json.dumps(evidence_payload(model={"team": "nobody"})),
}


@pytest.mark.parametrize("case", REFUSED.keys())
def test_a_refused_document_names_each_field_as_the_api_does_and_writes_nothing(
    client, model, contributor, case
):
    body = REFUSED[case]()
    client.force_login(contributor)
    api = post_json(client, f"/models/{model.name}/versions", body, **bearer(contributor))
    assert api.status_code == 400, api.content
    expected = [
        problem if path == "body" else f"{path}: {problem}"
        for path, problems in api.json()["error"]["fields"].items()
        for problem in problems
    ]
    before = written()

    response = client.post(URL, pasted(body))

    assert response.status_code == 400
    assert written() == before
    assert response.context["document_form"].errors["document"] == expected
    html = response.content.decode()
    assert "Nothing was registered" in html and 'href="#id_json-document"' in html
    assert '<details class="panel register-json" id="json" open>' in html
    # What was pasted is kept, to correct.
    assert response.context["document_form"]["document"].value() == body


def test_field_paths_are_shown_on_the_page(client, model, contributor):
    client.force_login(contributor)
    response = client.post(URL, pasted(_second_artifact_bad(evidence_payload())))
    html = response.content.decode()
    assert "artifacts[1].sha256: Must be 64 hexadecimal" in html
    assert "artifacts[1].colour: Unknown field" in html


def test_a_refused_upload_is_named_on_the_file_input(client, model, contributor):
    client.force_login(contributor)
    before = written()
    body = json.dumps(evidence_payload()).replace("run-42", "run-\\u0000", 1).encode()
    response = client.post(URL, uploaded(body))
    assert response.status_code == 400 and written() == before
    assert response.context["document_form"].errors["document_file"] == [
        "source_run.run_id: Must not contain NUL characters."
    ]


def test_an_upload_that_is_not_utf8_is_refused(client, model, contributor):
    client.force_login(contributor)
    body = json.dumps(evidence_payload(description="Réentraîné"), ensure_ascii=False).encode("latin-1")
    response = client.post(URL, uploaded(body))
    assert response.status_code == 400
    assert "is not UTF-8" in response.context["document_form"].errors["document_file"][0]


def test_a_file_over_the_apis_limit_is_not_read(client, model, contributor):
    assert REGISTRATION_DOCUMENT_MAX_BYTES == MAX_BODY_BYTES
    client.force_login(contributor)
    before = written()
    body = json.dumps(evidence_payload(description="x" * 100)).encode()
    body += b" " * (REGISTRATION_DOCUMENT_MAX_BYTES + 1 - len(body))
    response = client.post(URL, uploaded(body))
    assert response.status_code == 400 and written() == before
    assert response.context["document_form"].errors["document_file"] == [
        "The file is larger than 5 MB; nothing was read."
    ]


def test_a_paste_as_large_as_the_api_takes_is_read(client, model, contributor):
    """Past Django's default form limit (2.5 MB), up to the API's 5 MB: read, not Django's bare 400."""
    client.force_login(contributor)
    text = json.dumps(evidence_payload())
    text += " " * (4 * 1024 * 1024 - len(text))

    response = client.post(URL, pasted(text))

    assert response.status_code == 302, response.content[:300]
    assert ModelVersion.objects.filter(model=model).count() == 2


def test_it_asks_for_the_json_or_a_file_and_not_both(client, model, contributor):
    client.force_login(contributor)
    before = written()
    nothing = client.post(URL, pasted("  "))
    assert nothing.context["document_form"].errors["document"] == [
        "Paste the registration JSON, or upload it as a file."
    ]
    both = client.post(URL, {**uploaded(b"{}"), "json-document": "{}"})
    assert both.context["document_form"].non_field_errors() == ["Paste the JSON or upload a file, not both."]
    assert (nothing.status_code, both.status_code) == (400, 400) and written() == before


def test_the_model_comes_from_the_form_as_it_comes_from_the_apis_url(client, model, viewer, contributor):
    client.force_login(contributor)
    bad_name = client.post(URL, pasted(evidence_payload(), model="Not_A_Slug"))
    assert bad_name.status_code == 400 and "model" in bad_name.context["document_form"].errors
    client.force_login(viewer)
    before = ModelVersion.objects.count()
    refused = client.post(URL, pasted(evidence_payload(), model="brand-new"))
    assert refused.status_code == 404
    assert "you may not create models" in refused.context["document_form"].errors["model"][0]
    assert ModelVersion.objects.count() == before
    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).exists()


def test_a_viewer_posting_json_is_refused_and_audited(client, model, viewer):
    client.force_login(viewer)
    before = ModelVersion.objects.count()
    response = client.post(URL, pasted(evidence_payload()))
    assert response.status_code == 403 and ModelVersion.objects.count() == before
    assert (
        AuditEvent.objects.get(action="permission.denied").data["permission"] == "registry.register_version"
    )


# --- Starting from a previous version ---------------------------------------------------------------------


def test_it_starts_the_json_from_a_previous_versions_evidence(
    client, model, contributor, django_assert_max_num_queries
):
    previous = version_register_for_tests(
        actor=contributor, model=model, card={"task": "Scores payments.", "known_failures": "New merchants."}
    )
    client.force_login(contributor)

    with django_assert_max_num_queries(25):
        response = client.get(URL, {"from": f"{model.name}/{previous.number}"})

    assert response.status_code == 200
    form = response.context["document_form"]
    assert form["model"].value() == model.name
    document = json.loads(form["document"].value())
    assert document == registration_of(previous) and document["description"] == ""
    assert document["card"] == {"task": "Scores payments.", "known_failures": "New merchants."}
    assert document["profile"]["cost_per_1k_predictions"] == "0.0125"
    html = response.content.decode()
    assert 'data-testid="started-from"' in html and "fraud-scorer/v2" in html
    assert '<details class="panel register-json" id="json" open>' in html

    # Registered as it stands, it is a new version with the same evidence; the previous one is untouched.
    document["description"] = "Same weights, new threshold notes."
    assert client.post(URL, pasted(document)).status_code == 302
    new = model.versions.get(number=previous.number + 1)
    assert evidence(new) == evidence(previous)
    assert registration_of(previous) == {**document, "description": ""}


def test_it_offers_the_latest_version_of_the_named_model(client, model, contributor):
    version_register_for_tests(actor=contributor, model=model)
    client.force_login(contributor)
    html = client.get(URL, {"model": model.name}).content.decode()
    assert 'value="fraud-scorer/2"' in html and '<option value="fraud-scorer/2">' in html


@pytest.mark.parametrize(
    "named", ["fraud-scorer/1", "fraud-scorer/9", "secret-model/1", "fraud-scorer", "x/y"]
)
def test_starting_from_a_version_one_may_not_see_is_404(client, model, outsider, contributor, named):
    # The outsider may register (every role) but is in no team: fraud-scorer does not exist for them.
    client.force_login(outsider if named == "fraud-scorer/1" else contributor)
    assert client.get(URL, {"from": named}).status_code == 404


# --- Required fields are marked --------------------------------------------------------------------------


def test_required_fields_are_marked_for_eyes_and_ears(client, model, contributor):
    client.force_login(contributor)
    html = client.get(URL).content.decode()
    assert 'id="required-legend"' in html and "marks a required field" in html
    mark = '<span class="req" aria-hidden="true">*</span><span class="visually-hidden"> (required)</span>'
    for field in (
        "model",
        "artifacts",
        "source_run_tracking_system",
        "source_run_run_id",
        "dataset",
        "metrics",
        "profile_latency_p50_ms",
        "profile_latency_p99_ms",
        "json-model",
    ):
        label = html[html.index(f'<label for="id_{field}"') :].split("</label>")[0]
        assert mark in label, field
    for optional in (
        "description",
        "model_team",
        "source_run_url",
        "dataset_version",
        "profile_hardware",
        "card",
    ):
        label = html[html.index(f'<label for="id_{optional}"') :].split("</label>")[0]
        assert "(required)" not in label, optional
