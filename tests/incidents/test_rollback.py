"""Rolling production back: through the one stage door, in one transaction, on the record; refused with a
clear message when there is nothing to go back to, when the target's evidence fails re-verification, or
when the responder lacks the role; and the production lookup answers the new version at once."""

import hashlib

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict, InvalidInput
from warehouse.incidents.models import AlertPayload, AlertReceiver, Incident
from warehouse.incidents.rollback import production_rollback
from warehouse.registry.models import ModelVersion, Stage, TransitionKind

pytestmark = pytest.mark.django_db


def incident_about(
    model, superuser, *, summary="PSI drift 0.31 > 0.25", fingerprint="8c1b2f0e5a7d9c34"
) -> Incident:
    """An incident about `model`, written directly (receiving alerts is tested in test_receiving.py)."""
    receiver, _ = AlertReceiver.objects.get_or_create(
        name=f"am-{model.name}",
        defaults={"token_prefix": f"p{model.pk}", "token_digest": f"d{model.pk}", "created_by": superuser},
    )
    payload = AlertPayload.objects.create(receiver=receiver, kind="alertmanager", body="{}")
    return Incident.objects.create(
        receiver=receiver,
        fingerprint=fingerprint,
        starts_at="2026-11-01T10:15:30Z",
        status="firing",
        alertname="ModelPredictionDrift",
        summary=summary,
        model=model,
        first_payload=payload,
        last_payload=payload,
    )


def test_it_rolls_back_to_the_target_in_one_step(production_with_target, responder, model, superuser):
    current, target = production_with_target
    incident = incident_about(model, superuser)
    transition = production_rollback(
        actor=responder, model=model, expected_current=current, reason="Drift alert", incident=incident
    )
    current.refresh_from_db()
    target.refresh_from_db()
    incident.refresh_from_db()
    assert target.stage == Stage.PRODUCTION and transition.kind == TransitionKind.ROLLBACK
    assert current.stage == Stage.ARCHIVED and current.rolled_back_at is not None
    assert incident.rollback == transition and incident.rolled_back_by == responder
    assert incident.status == "mitigated" and incident.rolled_back_from == current
    actions = list(AuditEvent.objects.order_by("-sequence").values_list("action", flat=True)[:4])
    assert actions == [
        "incident.rolled_back",
        "incident.mitigated",
        "version.stage_changed",
        "version.stage_changed",
    ]


def test_the_production_lookup_answers_the_new_version_at_once(
    client, production_with_target, responder, model
):
    from tests.api.support import bearer

    current, target = production_with_target
    url = reverse("api:production", args=[model.name])
    headers = bearer(responder)
    assert client.get(url, **headers).json()["version"] == current.number
    production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")
    assert client.get(url, **headers).json()["version"] == target.number


def test_the_new_production_versions_rollback_target_is_the_one_before(model, contributor, responder):
    versions = [model.versions.get(number=1)] + [
        version_register_for_tests(actor=contributor, model=model) for _ in range(2)
    ]
    for version in versions:
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    production_rollback(actor=responder, model=model, expected_current=versions[2], reason="Bad v3")
    back = ModelVersion.objects.get(pk=versions[1].pk)
    assert back.stage == Stage.PRODUCTION and back.rollback_target_id == versions[0].pk


def test_it_refuses_someone_without_the_responder_role(production_with_target, approver, model):
    current, _ = production_with_target
    with pytest.raises(PermissionDenied):
        production_rollback(actor=approver, model=model, expected_current=current, reason="Drift")
    assert ModelVersion.objects.get(pk=current.pk).stage == Stage.PRODUCTION
    assert AuditEvent.objects.filter(action="permission.denied", actor=approver).exists()


def test_it_needs_a_reason(production_with_target, responder, model):
    current, _ = production_with_target
    with pytest.raises(InvalidInput):
        production_rollback(actor=responder, model=model, expected_current=current, reason="  ")


def test_it_refuses_when_there_is_no_rollback_target(model, version, contributor, responder):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    with pytest.raises(Conflict) as refused:
        production_rollback(actor=responder, model=model, expected_current=version, reason="Drift")
    assert (
        refused.value.code == "no_rollback_target" and "first version in production" in refused.value.message
    )
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.action == "incident.rollback_refused" and event.data["code"] == "no_rollback_target"


def test_it_refuses_a_target_whose_stored_artifact_no_longer_matches(
    model, contributor, responder, settings, tmp_path
):
    settings.ARTIFACT_STORAGE_ROOT = tmp_path
    stored = tmp_path / "fraud" / "model.onnx"
    stored.parent.mkdir()
    stored.write_bytes(b"the weights that were approved")
    target = version_register_for_tests(
        actor=contributor,
        model=model,
        artifacts=[
            {
                "name": "model.onnx",
                "kind": "weights",
                "uri": "warehouse://fraud/model.onnx",
                "sha256": hashlib.sha256(stored.read_bytes()).hexdigest(),
                "size_bytes": 30,
            }
        ],
    )
    version_move(target, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    stored.write_bytes(b"something else entirely")  # the file changed under the warehouse
    with pytest.raises(Conflict) as refused:
        production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")
    assert refused.value.code == "target_evidence_failed" and "no longer matches" in refused.value.message
    assert ModelVersion.objects.get(pk=current.pk).stage == Stage.PRODUCTION


def test_a_second_rollback_of_the_same_version_is_told_it_already_happened(
    production_with_target, responder, model
):
    current, target = production_with_target
    production_rollback(actor=responder, model=model, expected_current=current, reason="First")
    with pytest.raises(Conflict) as refused:
        production_rollback(actor=responder, model=model, expected_current=current, reason="Second")
    assert refused.value.code == "already_rolled_back"
    assert f"v{target.number} is in production now" in refused.value.message


# --- The page: the button, one confirmation -------------------------------------------------------------


def test_the_page_rolls_back_with_one_confirmed_post(client, production_with_target, responder, model):
    current, target = production_with_target
    client.force_login(responder)
    page = client.get(reverse("incidents:go", args=[model.name])).content.decode()
    assert f"Roll back to v{target.number}" in page
    response = client.post(
        reverse("incidents:rollback", args=[model.name]),
        {"expected_current": current.number, "reason": "Drift on new merchants"},
        follow=True,
    )
    assert "Rolled back" in response.content.decode()
    assert ModelVersion.objects.get(pk=target.pk).stage == Stage.PRODUCTION


def test_the_button_is_only_for_responders(client, production_with_target, viewer, model):
    _, target = production_with_target
    client.force_login(viewer)
    page = client.get(reverse("incidents:go", args=[model.name])).content.decode()
    # Shown where a reader of the page looks for it, disabled, with the role it needs.
    assert reverse("incidents:rollback", args=[model.name]) not in page
    assert f'disabled aria-describedby="rollback-why">Roll back to v{target.number}</button>' in page
    assert "Needs the incident responder role on fraud-scorer." in page
