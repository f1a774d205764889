"""POST /api/v1/models/<name>/versions: a pipeline registers a candidate with its evidence and first card."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.test import Client

from tests.api.support import API, bearer, get, issue_token, post_json, written
from tests.factories import evidence_payload
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage

VERSIONS = "/models/{name}/versions"


def test_it_registers_a_version_with_its_evidence_and_first_card(client, contract, model, contributor):
    token = issue_token(contributor, "payments CI")
    payload = evidence_payload()

    response = post_json(client, VERSIONS.format(name="fraud-scorer"), payload, **bearer(token))

    assert response.status_code == 201, response.content
    body = contract.check(response, VERSIONS, "post")
    assert body["id"] == "fraud-scorer/v2"
    assert body["model"] == "fraud-scorer" and body["version"] == 2 and body["stage"] == Stage.DRAFT
    assert body["registered_by"] == "carol" and body["rollback_target"] is None
    assert body["url"] == f"{settings.WAREHOUSE_BASE_URL}/models/fraud-scorer/versions/2/"
    assert response["Location"] == f"{settings.WAREHOUSE_BASE_URL}{API}/models/fraud-scorer/versions/2"

    version = ModelVersion.objects.get(uuid=body["uuid"])
    assert (version.model_id, version.number, version.stage) == (model.pk, 2, Stage.DRAFT)
    assert version.description == payload["description"]
    assert [(a.name, a.kind, a.uri, a.sha256, a.size_bytes) for a in version.artifacts.order_by("name")] == [
        ("config.json", "config", "s3://models/fraud/config.json", "cd" * 32, 512),
        ("model.onnx", "weights", "s3://models/fraud/model.onnx", "ab" * 32, 123456),
    ]
    assert (version.source_run.tracking_system, version.source_run.run_id) == ("mlflow", "run-42")
    assert {m.name: (m.value, m.direction) for m in version.evaluation.metrics.all()} == {
        "auc": (0.91, "higher"),
        "log_loss": (0.21, "lower"),
    }
    assert version.evaluation.slices.count() == 3
    assert version.profile.cost_per_1k_predictions == Decimal("0.0125")

    revision = version.card.current
    assert revision.number == 1 and revision.author == contributor
    assert revision.sections == payload["card"]

    registered = AuditEvent.objects.get(action="version.registered", target_id=str(version.pk))
    assert registered.via == f"api-token:{token.token.prefix}"
    assert registered.actor == contributor and registered.model_name == "fraud-scorer"
    assert AuditEvent.objects.get(action="card.revised", target_id=str(version.pk)).via == registered.via

    # Location answers with the version it names.
    followed = client.get(response["Location"].removeprefix(settings.WAREHOUSE_BASE_URL), **bearer(token))
    assert followed.status_code == 200 and followed.json()["uuid"] == body["uuid"]


def test_it_accepts_a_card_written_as_one_markdown_document(client, model, contributor):
    card = "Scores payments.\n\n## Known failures\nNew merchants.\n\n## Owners\npayments-ml@example.com"
    response = post_json(
        client, VERSIONS.format(name="fraud-scorer"), evidence_payload(card=card), **bearer(contributor)
    )

    assert response.status_code == 201, response.content
    sections = ModelVersion.objects.get(uuid=response.json()["uuid"]).card.current.sections
    assert sections == {
        "task": "Scores payments.",
        "known_failures": "New merchants.",
        "owners_contacts": "payments-ml@example.com",
    }


def test_it_creates_the_model_on_first_registration_for_a_contributor(
    client, contract, team, contributor, viewer
):
    payload = evidence_payload(model={"description": "Card fraud.", "team": "payments"})

    response = post_json(client, VERSIONS.format(name="new-scorer"), payload, **bearer(contributor))

    assert response.status_code == 201, response.content
    assert contract.check(response, VERSIONS, "post")["id"] == "new-scorer/v1"
    created = RegisteredModel.objects.get(name="new-scorer")
    assert (created.owner, created.team, created.description) == (contributor, team, "Card fraud.")
    assert AuditEvent.objects.filter(action="model.created", model_name="new-scorer").exists()
    # The team sees what its pipeline created.
    assert get(client, "/models/new-scorer", **bearer(viewer)).status_code == 200


def test_a_viewer_cannot_create_a_model_and_the_refusal_is_audited(client, contract, team, viewer):
    headers = bearer(viewer)
    before = written()

    response = post_json(client, VERSIONS.format(name="new-scorer"), evidence_payload(), **headers)

    # "No such model", exactly as for a model they may not see: the answer reveals no model names.
    assert response.status_code == 404
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "not_found"
    after = written()
    assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1
    assert after == before
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert (refusal.action, refusal.actor) == ("permission.denied", viewer)
    assert refusal.data["permission"] == "registry.add_registeredmodel"
    assert refusal.via.startswith("api-token:")


def test_a_viewer_cannot_register_into_a_model_they_see(client, contract, model, viewer):
    headers = bearer(viewer)
    before = written()

    response = post_json(client, VERSIONS.format(name="fraud-scorer"), evidence_payload(), **headers)

    assert response.status_code == 403
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "permission_denied"
    assert written()["ModelVersion"] == before["ModelVersion"]
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert (refusal.action, refusal.model_name) == ("permission.denied", "fraud-scorer")
    assert refusal.data["permission"] == "registry.register_version"


def test_an_outsider_gets_404_for_a_model_they_cannot_see(client, contract, model, outsider):
    headers = bearer(outsider)
    before = written()

    response = post_json(client, VERSIONS.format(name="fraud-scorer"), evidence_payload(), **headers)

    assert response.status_code == 404
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "not_found"
    after = written()
    assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1
    assert after == before
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert (refusal.action, refusal.actor) == ("permission.denied", outsider)


def test_a_session_post_without_the_csrf_token_is_refused(contract, model, contributor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(contributor)
    before = written()

    response = post_json(browser, VERSIONS.format(name="fraud-scorer"), evidence_payload())

    assert response.status_code == 403
    assert contract.check(response, VERSIONS, "post")["error"]["code"] == "csrf_failed"
    assert written() == before


def test_a_session_post_with_the_csrf_token_registers(contract, model, contributor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(contributor)
    csrf_secret = secrets.token_hex(16)  # what the CSRF cookie holds: 32 letters and digits
    browser.cookies[settings.CSRF_COOKIE_NAME] = csrf_secret

    response = post_json(
        browser, VERSIONS.format(name="fraud-scorer"), evidence_payload(), HTTP_X_CSRFTOKEN=csrf_secret
    )

    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(uuid=contract.check(response, VERSIONS, "post")["uuid"])
    assert AuditEvent.objects.get(action="version.registered", target_id=str(version.pk)).via == "api-session"


def test_a_session_read_needs_no_csrf_token(contract, model, viewer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(viewer)

    response = get(browser, "/models/fraud-scorer")

    assert response.status_code == 200
    contract.check(response, "/models/{name}", "get")


def test_numbers_keep_counting_across_registrations(client, model, contributor):
    headers = bearer(contributor)
    ids = [
        post_json(client, VERSIONS.format(name="fraud-scorer"), evidence_payload(), **headers).json()["id"]
        for _ in range(3)
    ]
    assert ids == ["fraud-scorer/v2", "fraud-scorer/v3", "fraud-scorer/v4"]
