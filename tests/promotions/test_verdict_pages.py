"""What the pages say of a candidate that reports only some of production's slices, and of checks the policy
sets no rule for: missing is missing (never worse), and no rule is not configured (never a pass)."""

import pytest
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from tests.promotions.test_pages import evaluation, run_url, version_url
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import RequestState
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}
# Production reports four slices; the candidate reports one of them, unchanged, and drops three.
PRODUCTION = evaluation(*[(f"region=r{i}", "auc", 0.80, 1000) for i in range(4)])
CANDIDATE = evaluation(("region=r0", "auc", 0.80, 1000))


@pytest.fixture
def promotion(model, contributor):
    """A draft (v2) reporting one of production's (v3) four slices, asked for Staging under the global
    default."""
    draft = version_register_for_tests(actor=contributor, model=model, evaluation=CANDIDATE, card=CARD)
    baseline = version_register_for_tests(actor=contributor, model=model, evaluation=PRODUCTION, card=CARD)
    version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    promotion = promotion_request_open(
        actor=contributor, version=draft, target_stage=Stage.STAGING, justification="Shadow traffic."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    promotion.refresh_from_db()
    return promotion


def test_the_request_page_calls_missing_slices_missing_not_worse(client, promotion, reviewer):
    # Missing slices are a warning on the way to Staging under the global default: the gate still passes.
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    client.force_login(reviewer)

    html = client.get(
        reverse("promotions:request", args=[promotion.model.name, promotion.pk])
    ).content.decode()

    assert "<strong>0 worse</strong> of 1 compared" in html
    assert "3 missing from the candidate" in html
    assert "worse than production beyond what the policy allows" not in html
    assert "3 slice results of production are missing from the candidate" in html
    assert html.count("Missing from the candidate</span>") == 3
    slices = html[html.index('id="check-slices"') :]
    assert "status-warning" in html[html.index('id="check-slices"') - 40 : html.index('id="check-slices"')]
    assert "0 worse of 1 compared with fraud-scorer/v3; 3 missing from the candidate." in slices


def test_the_gate_report_shows_checks_without_a_rule_as_not_configured(client, promotion, reviewer):
    client.force_login(reviewer)

    html = client.get(run_url(promotion.gate_run)).content.decode()

    for check in ("latency", "cost", "metric_bars", "baseline"):
        head = html[html.index(f'id="check-{check}"') - 60 : html.index(f'id="check-{check}"')]
        assert "status-not_configured" in head, check
    assert "The policy sets no latency budget." in html
    assert 'class="icon icon-not_configured"' in html
    assert '<li class="muted">4 not configured</li>' in html
    # Not counted as passes: the source run, artifacts, evaluation, owner, card sections and rollback target.
    assert '<li class="better">6 passed</li>' in html


def test_the_slice_page_says_which_side_has_no_value(client, promotion, reviewer):
    client.force_login(reviewer)

    html = client.get(run_url(promotion.gate_run, "gate-slices")).content.decode()

    assert "3 slice results of production are missing from the candidate: no candidate value" in html
    assert "without a production value" not in html
    assert "is a <strong>warning</strong>" in html
    assert html.count('<span class="verdict-tag v-missing_from_candidate">') == 3


def test_the_version_page_counts_the_missing_slices_apart(client, promotion, viewer):
    client.force_login(viewer)

    html = client.get(version_url(promotion.version)).content.decode()

    assert "0 worse</span> of 1 compared slice metric" in html
    assert "<strong>3 missing</strong> from this version" in html
    assert '0 worse of 1 compared</span> · <span class="missing-text">3 missing</span>' in html
    assert html.count("Missing from this version</span>") == 3


def test_the_policy_page_warns_of_required_checks_without_a_rule(client, model, viewer):
    client.force_login(viewer)

    html = client.get(reverse("promotions:policy", args=[model.name])).content.decode()

    notice = html[html.index('id="unruled"') :]
    notice = notice[: notice.index("</section>")]
    assert "Staging → Production: Metric bars, Against production, Latency budget, Cost budget" in notice
    assert "Latency budget (no rule: not judged)" in html
    assert "Slices production reports and the candidate does not fail the slices check" in html
    assert "Slices production reports and the candidate does not are a warning on the slices check" in html
