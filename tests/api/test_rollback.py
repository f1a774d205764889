"""POST /api/v1/models/<name>/rollback: the runbook's rollback, the same as the one click on /go/<model>.

The same service (incidents.rollback.production_rollback), permission, refusals and audit events; the
production lookup answers the target as soon as it commits."""

import pytest

from tests.api.support import bearer, get, locked_out, own_statuses, post_json
from tests.factories import version_move, version_register_for_tests
from tests.incidents.test_rollback import incident_about
from warehouse.audit.models import AuditEvent
from warehouse.incidents.models import Incident
from warehouse.registry.models import ModelVersion, Stage, TransitionKind

ROLLBACK = "/models/{name}/rollback"
PATH = "/models/fraud-scorer/rollback"


@pytest.fixture
def production_with_target(model, version, contributor):
    """v1 was in production and v2 replaced it: v2 serves, v1 is its rollback target."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    return replacement, version


def test_it_rolls_back_and_the_lookup_answers_the_target(client, contract, production_with_target, responder):
    current, target = production_with_target
    headers = bearer(responder)

    response = post_json(client, PATH, {"expected_current": 2, "reason": "INC-42: p99 doubled"}, **headers)

    answer = contract.check(response, ROLLBACK, "post")
    assert (answer["production"]["id"], answer["production"]["stage"]) == ("fraud-scorer/v1", "production")
    assert (answer["rolled_back"]["id"], answer["rolled_back"]["stage"]) == ("fraud-scorer/v2", "archived")
    assert get(client, "/models/fraud-scorer/production", **headers).json()["id"] == "fraud-scorer/v1"
    archived = ModelVersion.objects.get(pk=current.pk)
    assert archived.rolled_back_at is not None
    assert archived.transitions.order_by("-pk").first().kind == TransitionKind.ROLLED_BACK
    event = AuditEvent.objects.filter(action="incident.rolled_back").get()
    assert event.data == {"from": 2, "to": 1, "reason": "INC-42: p99 doubled"}
    assert event.via.startswith("api-token:")


def test_it_records_the_incident_it_answers(client, production_with_target, responder, model, superuser):
    incident = incident_about(model, superuser)

    response = post_json(
        client, PATH, {"expected_current": 2, "reason": "Drift", "incident": incident.pk}, **bearer(responder)
    )

    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.rolled_back_by == responder and incident.rollback.version.number == 1
    assert incident.status == "mitigated" and response.json()["mitigated"] == [incident.pk]


def test_it_marks_every_firing_incident_of_the_model_mitigated(
    client, contract, production_with_target, responder, model, superuser
):
    drift = incident_about(model, superuser, fingerprint="drift")
    latency = incident_about(model, superuser, fingerprint="latency")

    response = post_json(client, PATH, {"expected_current": 2, "reason": "Drift"}, **bearer(responder))

    assert contract.check(response, ROLLBACK, "post")["mitigated"] == [drift.pk, latency.pk]
    assert set(Incident.objects.values_list("status", flat=True)) == {"mitigated"}
    assert AuditEvent.objects.filter(action="incident.mitigated").count() == 2


def test_a_second_rollback_is_told_it_already_happened(client, contract, production_with_target, responder):
    headers = bearer(responder)
    assert post_json(client, PATH, {"expected_current": 2, "reason": "first"}, **headers).status_code == 200

    again = post_json(client, PATH, {"expected_current": 2, "reason": "second"}, **headers)

    assert again.status_code == 409
    error = contract.check(again, ROLLBACK, "post")["error"]
    assert error["code"] == "already_rolled_back"
    assert error["message"].startswith("Already rolled back: ravi rolled v2 back at")
    assert ModelVersion.objects.get(model__name="fraud-scorer", stage=Stage.PRODUCTION).number == 1
    assert AuditEvent.objects.filter(action="incident.rollback_refused").count() == 1


def test_without_a_target_it_is_409_on_the_record(client, contract, model, version, contributor, responder):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    response = post_json(client, PATH, {"expected_current": 1, "reason": "Drift"}, **bearer(responder))

    assert contract.check(response, ROLLBACK, "post")["error"]["code"] == "no_rollback_target"
    assert AuditEvent.objects.filter(action="incident.rollback_refused").exists()


def test_without_the_responder_role_it_is_403_on_the_record(
    client, contract, production_with_target, approver
):
    response = post_json(client, PATH, {"expected_current": 2, "reason": "Drift"}, **bearer(approver))

    assert contract.check(response, ROLLBACK, "post")["error"]["code"] == "permission_denied"
    assert ModelVersion.objects.get(model__name="fraud-scorer", stage=Stage.PRODUCTION).number == 2
    assert AuditEvent.objects.filter(action="permission.denied", actor=approver).exists()


def test_a_hidden_model_is_404(client, production_with_target, outsider):
    response = post_json(client, PATH, {"expected_current": 2, "reason": "Drift"}, **bearer(outsider))

    assert response.status_code == 404
    assert ModelVersion.objects.get(model__name="fraud-scorer", stage=Stage.PRODUCTION).number == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "Drift"}, "expected_current"),
        ({"expected_current": "2", "reason": "Drift"}, "expected_current"),
        ({"expected_current": True, "reason": "Drift"}, "expected_current"),
        ({"expected_current": 0, "reason": "Drift"}, "expected_current"),
        ({"expected_current": 9, "reason": "Drift"}, "expected_current"),
        ({"expected_current": 2}, "reason"),
        ({"expected_current": 2, "reason": "   "}, "reason"),
        ({"expected_current": 2, "reason": 7}, "reason"),
        ({"expected_current": 2, "reason": "Drift", "incident": 999}, "incident"),
        ({"expected_current": 2, "reason": "Drift", "target": 1}, "target"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_changes_nothing(
    client, contract, production_with_target, responder, body, field
):
    response = post_json(client, PATH, body, **bearer(responder))

    assert response.status_code == 400
    assert field in contract.check(response, ROLLBACK, "post")["error"]["fields"]
    assert ModelVersion.objects.get(model__name="fraud-scorer", stage=Stage.PRODUCTION).number == 2
    assert not Incident.objects.filter(rollback__isnull=False).exists()


def test_without_credentials_it_is_401(client, contract, production_with_target):
    response = post_json(client, PATH, {"expected_current": 2, "reason": "Drift"})

    assert contract.check(response, ROLLBACK, "post")["error"]["code"] == "unauthenticated"


def test_from_an_address_locked_out_for_wrong_tokens_it_is_429(
    client, contract, production_with_target, responder
):
    headers = locked_out(client, responder)

    response = post_json(client, PATH, {"expected_current": 2, "reason": "Drift"}, **headers)

    assert contract.check(response, ROLLBACK, "post")["error"]["code"] == "locked_out"
    assert ModelVersion.objects.get(model__name="fraud-scorer", stage=Stage.PRODUCTION).number == 2


def test_every_documented_answer_is_produced_by_these_tests(contract):
    """The statuses this module produces and checks against the document: all of them."""
    documented = set(own_statuses(contract.document["paths"][ROLLBACK]["post"]))

    assert documented == {"200", "400", "401", "403", "404", "409", "429"}


def test_a_session_caller_needs_the_csrf_token(production_with_target, responder):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(responder)

    response = post_json(browser, PATH, {"expected_current": 2, "reason": "Drift"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
