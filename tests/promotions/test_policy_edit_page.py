"""Editing a policy from its page is safe for other people's work: before saving, the page lists the open
requests the change would supersede (only those for the moves whose rules change) and saves nothing until
that is confirmed; the requesters are told on their home page and by the `promotion.superseded` webhook;
and the page lands on the new revision with what it changed from the one before."""

import json

import pytest
from django.urls import reverse

from tests.promotions.test_promotion_request import (
    asked,
    awaiting,
    global_policy,  # noqa: F401 - autouse fixture
    in_staging,
    ready_version,
)
from tests.webhooks.conftest import subscribe
from warehouse.promotions.models import PolicyRevision, RequestState
from warehouse.promotions.policy_views import CONFIRM_FIELD
from warehouse.registry.models import Stage
from warehouse.webhooks.models import WebhookDelivery
from warehouse.webhooks.services import webhook_fan_out


def policy_url(model) -> str:
    return reverse("promotions:policy", args=[model.name])


def form_data(client, model, **changes) -> dict:
    """The edit form as the page fills it in (the rules in force), with some fields changed."""
    form = client.get(policy_url(model)).context["form"]
    data = {
        f"{section.prefix}-{name}": value
        for section in form.sections
        for name, value in section.initial.items()
        if value not in (False, None)
    }
    return data | changes


@pytest.fixture
def open_requests(contributor, model):
    """One request to Staging waiting for sign-off, one to Production whose gate is queued."""
    to_staging = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    to_production = asked(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    return to_staging, to_production


LATENCY_BUDGET = {"staging_to_production-latency_p95_ms_max": "50", "reason": "Latency budget from the SLO."}


def test_the_page_warns_before_superseding_and_saves_nothing_yet(client, policy_admin, model, open_requests):
    to_staging, to_production = open_requests
    client.force_login(policy_admin)

    response = client.post(policy_url(model), form_data(client, model, **LATENCY_BUDGET))

    assert response.status_code == 200
    assert [p.pk for p in response.context["to_confirm"]] == [to_production.pk]
    html = response.content.decode()
    assert "Saving supersedes 1 open request" in html
    assert f"Request #{to_production.pk}</a>" in html and f"Request #{to_staging.pk}<" not in html
    assert f'name="{CONFIRM_FIELD}" value="{to_production.pk}"' in html
    assert "Save and supersede 1 request" in html
    # Nothing was written: no revision, both requests open.
    assert not PolicyRevision.objects.filter(policy__model=model).exists()
    for promotion in open_requests:
        promotion.refresh_from_db()
        assert promotion.state != RequestState.SUPERSEDED


def test_confirming_supersedes_only_the_changed_moves_requests_and_lands_on_the_diff(
    client, policy_admin, contributor, model, open_requests
):
    to_staging, to_production = open_requests
    client.force_login(policy_admin)
    data = form_data(client, model, **LATENCY_BUDGET)
    subscribe(
        policy_admin, model=model, url="https://hooks.example.com/warehouse", events=["promotion.superseded"]
    )

    response = client.post(policy_url(model), data | {CONFIRM_FIELD: str(to_production.pk)}, follow=True)

    assert response.redirect_chain == [(policy_url(model) + "#main", 302)]
    html = response.content.decode()
    assert (
        f"Saved revision 1 of the policy of fraud-scorer. It superseded 1 open request (#{to_production.pk}) "
        "for the moves it changed; their requesters are told on their home page."
    ) in html
    to_staging.refresh_from_db()
    to_production.refresh_from_db()
    assert to_staging.state == RequestState.AWAITING_SIGNOFF
    assert to_production.state == RequestState.SUPERSEDED
    assert "rules for Staging → Production" in to_production.closed_reason
    # The page opens on the new revision and what it changed from the global default's, which applied before.
    assert response.context["page"].viewed.number == 1
    assert [(c.label, c.move, [str(x) for x in c.after]) for c in response.context["changes"]] == [
        ("p95 latency budget", "Staging → Production", ["at most 50 ms"])
    ]
    assert "What revision 1 changed from the global default's revision 1, which applied before" in html

    # The requester is told where they look first, and receivers by the webhook.
    client.force_login(contributor)
    home = client.get(reverse("home"))
    assert [p.pk for p in home.context["superseded"]] == [to_production.pk]
    assert "Latency budget from the SLO." in home.content.decode()
    assert webhook_fan_out() == 1
    delivery = WebhookDelivery.objects.get()
    body = json.loads(delivery.body)
    assert (delivery.event, body["event"]) == ("promotion.superseded", "promotion.superseded")
    assert body["data"]["requested_by"] == contributor.username
    assert body["data"]["target_stage"] == "production"
    assert body["links"]["promotion_request"].endswith(f"/models/fraud-scorer/promotions/{to_production.pk}/")


def test_a_second_revision_shows_what_it_changed(client, policy_admin, model):
    client.force_login(policy_admin)
    client.post(policy_url(model), form_data(client, model, **LATENCY_BUDGET))
    changes = {
        "staging_to_production-latency_p95_ms_max": "40",
        "draft_to_staging-metric_bars": "auc >= 0.8",
        "reason": "Tighter still.",
    }

    response = client.post(policy_url(model), form_data(client, model, **changes), follow=True)

    assert "No open request was superseded." in response.content.decode()
    shown = [
        (c.label, c.move, [str(x) for x in c.before], [str(x) for x in c.after])
        for c in response.context["changes"]
    ]
    assert ("p95 latency budget", "Staging → Production", ["at most 50 ms"], ["at most 40 ms"]) in shown
    assert [c.label for c in response.context["changes"]] == ["Metric bars", "p95 latency budget"]
    html = response.content.decode()
    assert "What revision 2 changed from revision 1" in html
    assert "<del>at most 50 ms</del>" in html and "<ins>at most 40 ms</ins>" in html


def test_a_request_opened_after_the_warning_is_warned_about_again(
    client, policy_admin, contributor, model, open_requests
):
    _, to_production = open_requests
    client.force_login(policy_admin)
    data = form_data(client, model, **LATENCY_BUDGET)
    client.post(policy_url(model), data)
    later = asked(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)

    response = client.post(policy_url(model), data | {CONFIRM_FIELD: str(to_production.pk)})

    assert response.status_code == 200
    assert [p.pk for p in response.context["to_confirm"]] == [to_production.pk, later.pk]
    assert not PolicyRevision.objects.filter(policy__model=model).exists()
    to_production.refresh_from_db()
    assert to_production.state != RequestState.SUPERSEDED


def test_a_change_that_supersedes_nothing_is_saved_without_a_warning(
    client, policy_admin, model, open_requests
):
    client.force_login(policy_admin)
    data = form_data(client, model, **{"reason": "A reworded reason, same rules."})

    response = client.post(policy_url(model), data, follow=True)

    assert response.redirect_chain == [(policy_url(model) + "#main", 302)]
    assert "No open request was superseded." in response.content.decode()
    assert PolicyRevision.objects.filter(policy__model=model).count() == 1
    assert all(p.state != RequestState.SUPERSEDED for p in open_requests)


def test_a_tampered_confirmation_is_asked_again(client, policy_admin, model, open_requests):
    client.force_login(policy_admin)
    data = form_data(client, model, **LATENCY_BUDGET)

    response = client.post(policy_url(model), data | {CONFIRM_FIELD: "1,x"})

    assert response.status_code == 200
    assert response.context["to_confirm"]
    assert not PolicyRevision.objects.filter(policy__model=model).exists()
