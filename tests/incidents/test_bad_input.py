"""Input a browser, a pipeline or an alerting system can send that once gave a 500: each is now a clear 4xx
(or a refused form) and writes nothing. Found in review; kept so they stay fixed."""

import json

import pytest
from django.urls import reverse

from tests.api.support import bearer
from tests.incidents.conftest import ALERTMANAGER_FIRING, example, post_alerts
from warehouse.incidents.models import Incident
from warehouse.promotions.models import PromotionRequest
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

# "²" is a digit to str.isdigit() and not to int(); 25 nines overflow every integer column.
ODD_NUMBERS = ["²", "9" * 25, "-1", " 1"]


@pytest.mark.parametrize("raw", ODD_NUMBERS)
def test_a_rollback_naming_an_odd_version_number_is_refused(
    client, production_with_target, responder, model, raw
):
    current, _ = production_with_target
    client.force_login(responder)
    response = client.post(
        reverse("incidents:rollback", args=[model.name]), {"expected_current": raw, "reason": "x"}
    )
    assert response.status_code == 302
    current.refresh_from_db()
    assert current.stage == Stage.PRODUCTION


@pytest.mark.parametrize("raw", ODD_NUMBERS)
def test_a_rollback_naming_an_odd_incident_still_works_without_it(
    client, production_with_target, responder, model, raw
):
    current, target = production_with_target
    client.force_login(responder)
    client.post(
        reverse("incidents:rollback", args=[model.name]),
        {"expected_current": current.number, "incident": raw, "reason": "Drift"},
    )
    target.refresh_from_db()
    assert target.stage == Stage.PRODUCTION


@pytest.mark.parametrize("query", ["?from=²&to=1", "?from=1&to=" + "9" * 25])
def test_a_card_diff_of_odd_revisions_is_not_found(client, viewer, model, version, query):
    client.force_login(viewer)
    assert (
        client.get(reverse("cards:card-diff", args=[model.name, version.number]) + query).status_code == 404
    )


def test_a_card_compare_with_an_odd_version_is_not_found(client, viewer, model, version):
    client.force_login(viewer)
    url = reverse("cards:card-compare", args=[model.name, version.number]) + "?with=" + "9" * 25
    assert client.get(url).status_code == 404


def test_an_alert_with_a_number_too_large_to_store_is_a_400(token):
    body = (
        json.dumps(example(ALERTMANAGER_FIRING))
        .encode()
        .replace(b'"labels": {', b'"labels": {"big": 1e400, ', 1)
    )
    response = post_alerts("alertmanager", body, token=token)
    assert response.status_code == 400 and "too large" in response.json()["error"]["message"]
    assert not Incident.objects.exists()


def test_a_readme_whose_front_matter_holds_an_impossible_date_is_refused(client, contributor, model):
    from tests.factories import version_register_for_tests

    draft = version_register_for_tests(actor=contributor, model=model, card={"task": "Mine."})
    client.force_login(contributor)
    readme = "---\nlicense: mit\ndate: 2020-02-30\n---\n# x\n\n## Uses\n\nScores payments.\n"
    response = client.post(
        reverse("cards:card-import", args=[model.name, draft.number]), {"readme": readme}, follow=True
    )
    assert response.status_code == 200 and "Nothing was imported" in response.content.decode()
    assert draft.card.revisions.count() == 1


@pytest.mark.parametrize(
    ("url_name", "body"),
    [
        ("api:promotions", '{"target_stage": "staging", "justification": "ok \\ud800"}'),
        ("api:version-archive", '{"reason": "retire \\ud800"}'),
    ],
)
def test_a_lone_surrogate_in_api_text_is_a_400(client, contributor, model, version, url_name, body):
    url = reverse(url_name, args=[model.name, version.number])
    response = client.post(url, data=body, content_type="application/json", **bearer(contributor))
    assert response.status_code == 400, response.content
    assert not PromotionRequest.objects.exists()
    version.refresh_from_db()
    assert version.stage == Stage.DRAFT
