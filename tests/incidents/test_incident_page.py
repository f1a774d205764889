"""The incident page's actions follow the incident's state: the rollback is offered while it fires; once
mitigated or resolved the page says what happened instead. And `/go/<model>` sets production beside its
rollback target, metric by metric, with latency and cost."""

import pytest
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from tests.incidents.test_rollback import incident_about
from warehouse.incidents.models import Incident, IncidentStatus
from warehouse.incidents.rollback import production_rollback
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

INCIDENT_PAGE_QUERIES = 14  # the same with 1 incident as with 11, firing or mitigated


@pytest.fixture
def served(model, version, contributor):
    """v1 served, then v2 replaced it; v2 is better on auc, worse on log_loss, slower and dearer."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(
        actor=contributor,
        model=model,
        evaluation={
            "dataset": "payments-holdout",
            "metrics": [
                {"name": "auc", "value": 0.93},
                {"name": "log_loss", "value": 0.25},
                {"name": "approval_rate", "value": 0.8, "direction": "higher_is_better"},
            ],
            "slices": [],
        },
        profile={
            "latency_p50_ms": 5,
            "latency_p95_ms": 14.5,
            "latency_p99_ms": 20,
            "cost_per_1k_predictions": "0.0200",
            "currency": "USD",
        },
    )
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    return current, version


def page_of(client, incident) -> str:
    return client.get(reverse("incidents:incident", args=[incident.pk])).content.decode()


def test_a_firing_incident_offers_the_rollback(client, responder, model, served, superuser):
    incident = incident_about(model, superuser)
    client.force_login(responder)

    html = page_of(client, incident)

    assert "Roll back to v1" in html and f'name="incident" value="{incident.pk}"' in html
    assert 'class="badge incident-firing">Firing<' in html
    assert 'data-testid="incident-state"' not in html


def test_a_mitigated_incident_says_what_mitigated_it_and_offers_no_rollback(
    client, responder, model, served, superuser
):
    current, _ = served
    incident = incident_about(model, superuser)
    production_rollback(
        actor=responder, model=model, expected_current=current, reason="Drift", incident=incident
    )
    incident.refresh_from_db()
    client.force_login(responder)

    html = page_of(client, incident)

    assert 'class="badge incident-mitigated">Mitigated<' in html
    moment = incident.mitigated_at.strftime("%Y-%m-%d %H:%M")
    assert "Mitigated by rollback v2 → v1 at <time datetime=" in html and f"{moment} UTC</time>" in html
    assert "by <strong>ravi</strong>" in html
    assert "Roll back to" not in html and "Confirm: roll back" not in html
    assert 'data-testid="incident-state"' in html


def test_a_mitigated_incident_offers_no_rollback_of_the_version_serving_now(
    client, responder, model, served, contributor, superuser
):
    """v3 rolled back to v2, which has a rollback target of its own (v1): still no button on the incident."""
    v3 = version_register_for_tests(actor=contributor, model=model)
    version_move(v3, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    incident = incident_about(model, superuser)
    production_rollback(actor=responder, model=model, expected_current=v3, reason="Drift", incident=incident)
    client.force_login(responder)

    html = page_of(client, incident)

    assert "Mitigated by rollback v3 → v2" in html and "Roll back to" not in html
    assert "This incident is mitigated: no second rollback is offered from it." in html
    # The jump page itself still offers it: a responder may roll back again without an alert.
    assert "Roll back to v1" in client.get(reverse("incidents:go", args=[model.name])).content.decode()


def test_a_resolved_incident_offers_no_rollback(client, responder, model, served, superuser):
    incident = incident_about(model, superuser)
    Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.RESOLVED)
    client.force_login(responder)

    html = page_of(client, incident)

    assert 'class="badge incident-resolved">Resolved<' in html
    assert "Roll back to" not in html and "This incident is resolved" in html


def test_a_mitigated_then_resolved_incident_keeps_saying_what_mitigated_it(
    client, responder, viewer, model, served, superuser
):
    current, _ = served
    incident = incident_about(model, superuser)
    production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")
    Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.RESOLVED)
    client.force_login(viewer)

    html = page_of(client, incident)

    assert "Resolved<" in html and "Mitigated by rollback v2 → v1" in html and "Roll back to" not in html


def test_the_jump_page_tells_a_late_responder_it_was_mitigated(client, responder, model, served, superuser):
    current, _ = served
    incident = incident_about(model, superuser)
    production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")
    client.force_login(responder)

    html = client.get(reverse("incidents:go", args=[model.name])).content.decode()

    assert "firing</span>" not in html
    assert (
        f'href="{reverse("incidents:incident", args=[incident.pk])}">ModelPredictionDrift</a>: Mitigated'
        in html
    )


def test_the_incident_page_runs_the_same_queries_whatever_the_state_and_the_incidents(
    client, responder, model, served, superuser, django_assert_max_num_queries
):
    current, _ = served
    first = incident_about(model, superuser)
    client.force_login(responder)
    url = reverse("incidents:incident", args=[first.pk])
    client.get(url)  # warms per-process caches (content types)
    with django_assert_max_num_queries(INCIDENT_PAGE_QUERIES) as firing:
        client.get(url)
    production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")
    for n in range(10):
        incident_about(model, superuser, fingerprint=f"more-{n}")
    with django_assert_max_num_queries(INCIDENT_PAGE_QUERIES) as mitigated:
        body = client.get(url).content.decode()
    assert "Mitigated by rollback" in body
    assert len(mitigated.captured_queries) == len(firing.captured_queries)


# --- /go/<model>: production beside the rollback target ---------------------------------------------------


def test_the_jump_page_compares_production_with_the_target_metric_by_metric(client, responder, model, served):
    client.force_login(responder)

    response = client.get(reverse("incidents:go", args=[model.name]))

    rows = {row.name: row for row in response.context["page"].metrics_compared}
    assert (rows["auc"].production, rows["auc"].other) == (0.93, 0.91)
    assert rows["auc"].better == "production"  # higher is better, and v2 is higher
    assert rows["log_loss"].better == "other"  # lower is better, and v1 is lower
    assert rows["approval_rate"].other is None and rows["approval_rate"].better == ""
    profile = {row.name: row for row in response.context["page"].profile_compared}
    assert profile["Latency p95"].delta == pytest.approx(5.0) and profile["Latency p95"].better == "other"
    assert profile["Cost per 1k predictions"].unit == "USD"
    assert profile["Cost per 1k predictions"].better == "other"
    html = response.content.decode()
    assert 'data-testid="comparison"' in html and "v2 in production against rollback target v1" in html
    assert "▼ v2 better" in html and "▲ v1 better" in html and "not compared" in html


def test_a_version_without_a_target_shows_no_comparison(client, viewer, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    client.force_login(viewer)

    response = client.get(reverse("incidents:go", args=[model.name]))

    assert response.context["page"].metrics_compared == []
    assert 'data-testid="comparison"' not in response.content.decode()
