"""The jump page an alert links to: `/go/<model>` shows the production version, its card's known failures,
its profile, the rollback target with its evidence, alerts and recent events, on one screen."""

import pytest
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from tests.incidents.test_rollback import incident_about
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "- New merchants in their first week.\n- Assumes the upstream merchant feed is fresh.",
    "owners_contacts": "fraud-ml@example.com",
}


@pytest.fixture
def served(model, version, contributor, approver):
    """v1 in production, then v2 promoted through a request an approver signed: v1 is the target."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    candidate = version_register_for_tests(actor=contributor, model=model, card=CARD)
    version_move(candidate, Stage.STAGING, actor=contributor)
    request = promotion_request_open(
        actor=contributor, version=candidate, target_stage=Stage.PRODUCTION, justification="Go"
    )
    gate_run_execute(run_id=request.gate_run_id)
    request.refresh_from_db()
    signoff_record(actor=approver, promotion=request, decision="approve")
    candidate.refresh_from_db()
    assert candidate.stage == Stage.PRODUCTION
    return candidate


def go(model):
    return reverse("incidents:go", args=[model.name])


def test_a_signed_out_responder_is_sent_to_sign_in_and_back(client, model, served):
    response = client.get(go(model))
    assert response.status_code == 302
    assert (
        response["Location"].startswith(reverse("accounts:sign-in"))
        and "next=/go/fraud-scorer" in response["Location"]
    )


def test_a_model_the_reader_cannot_see_is_not_found(client, outsider, model, served):
    client.force_login(outsider)
    assert client.get(go(model)).status_code == 404


def test_it_shows_what_a_responder_needs(client, responder, approver, model, served, superuser):
    incident_about(model, superuser)
    client.force_login(responder)
    body = client.get(go(model)).content.decode()
    assert (
        f'In production: <a href="{reverse("registry:version", args=[model.name, served.number])}">' in body
    )
    assert approver.username in body  # who approved it
    assert "gate run #" in body
    assert "Assumes the upstream merchant feed is fresh." in body
    assert "Rollback target:" in body and "Last in production" in body
    assert "ModelPredictionDrift" in body and "1 firing" in body
    assert "Recent events" in body


def test_a_model_with_nothing_in_production_says_so(client, viewer, model):
    client.force_login(viewer)
    assert "has no version in production" in client.get(go(model)).content.decode()


def test_alert_text_is_escaped_and_only_http_links_are_links(client, responder, model, served, superuser):
    incident = incident_about(model, superuser, summary="<script>alert(1)</script>")
    incident.generator_url = "javascript:alert(1)"
    incident.annotations = {"runbook_url": "https://runbooks.example.com/drift", "x": "<b>bold</b>"}
    incident.runbook_url = "https://runbooks.example.com/drift"
    incident.save()
    client.force_login(responder)
    for url in (go(model), reverse("incidents:incident", args=[incident.pk])):
        body = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
        assert 'href="javascript:' not in body
    assert 'href="https://runbooks.example.com/drift"' in body


def test_the_jump_page_runs_the_same_queries_whatever_the_alerts_and_events(
    client, responder, model, served, superuser, django_assert_max_num_queries
):
    client.force_login(responder)
    incident_about(model, superuser)
    client.get(go(model))
    with django_assert_max_num_queries(30) as few:
        client.get(go(model))
    for n in range(8):
        incident_about(model, superuser, fingerprint=f"fp-{n}")
    with django_assert_max_num_queries(30) as many:
        client.get(go(model))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_incident_pages_run_the_same_queries_whatever_the_incidents(
    client, responder, model, served, superuser, django_assert_max_num_queries
):
    first = incident_about(model, superuser)
    client.force_login(responder)
    pages = (reverse("incidents:list"), reverse("incidents:incident", args=[first.pk]))
    for url in pages:
        client.get(url)  # warms per-process caches (content types)
    counts = []
    for url in pages:
        with django_assert_max_num_queries(30) as few:
            client.get(url)
        counts.append(len(few.captured_queries))
    for n in range(10):
        incident_about(model, superuser, fingerprint=f"more-{n}")
    for url, before in zip(pages, counts, strict=True):
        with django_assert_max_num_queries(30) as many:
            body = client.get(url).content.decode()
        assert len(many.captured_queries) == before, url
    assert body.count("ModelPredictionDrift") >= 1


def test_unmatched_incidents_are_listed_for_responders_only(client, responder, viewer, superuser, model):
    unmatched = incident_about(model, superuser, fingerprint="unmatched-1")
    unmatched.model = None
    unmatched.model_label_value = "churn-predictor"
    unmatched.save()
    client.force_login(responder)
    assert "churn-predictor" in client.get(reverse("incidents:list") + "?unmatched=1").content.decode()
    client.force_login(viewer)
    assert "churn-predictor" not in client.get(reverse("incidents:list")).content.decode()
    assert client.get(reverse("incidents:incident", args=[unmatched.pk])).status_code == 404
