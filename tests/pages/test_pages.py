"""The cross-app screens (home, a model, a version): who may open them, what they show, how many queries
they cost, and that their templates read nothing: every query runs in the view, none while rendering.

Each page climbs the ladder: anonymous → sign-in, outsider → 404 (the model does not exist for them),
viewer and every role → 200. Query counts are pinned at 1 row and at 50 rows with the same bound.
"""

import re

import pytest
from django.template import Context, engines
from django.urls import reverse
from guardian.shortcuts import assign_perm

from tests.factories import model_create_for_tests, version_move, version_register_for_tests
from tests.incidents.test_rollback import incident_about
from tests.registry.test_pages import ROLES, assert_queries_do_not_grow, page_urls
from warehouse.incidents.models import Incident, IncidentStatus
from warehouse.incidents.rollback import production_rollback
from warehouse.pages.views import HOME_INCIDENT_ROWS
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.registry.models import Stage

PAGES = ["home", "model", "version"]
TEMPLATES = {
    "home": "pages/home.html",
    "model": "pages/model_detail.html",
    "version": "pages/version_detail.html",
}

# --- Who may open what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_it_sends_anonymous_visitors_to_sign_in(client, model, version, page):
    url = page_urls(model, version)[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:sign-in')}?next={url}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_it_shows_every_page_to_each_role_in_the_team(client, request, model, version, role, page):
    client.force_login(request.getfixturevalue(role))
    response = client.get(page_urls(model, version)[page])
    assert response.status_code == 200
    assert model.name in response.content.decode()


@pytest.mark.parametrize("page", ["model", "version"])
def test_it_answers_404_to_outsiders(client, model, version, outsider, page):
    client.force_login(outsider)
    response = client.get(page_urls(model, version)[page])
    assert response.status_code == 404
    assert b"Page not found" in response.content and b"a model you may not see" in response.content


def test_it_answers_404_for_a_version_that_does_not_exist(client, model, viewer):
    client.force_login(viewer)
    assert client.get(reverse("registry:version", args=[model.name, 99])).status_code == 404


def test_it_offers_registering_only_to_those_who_may(client, model, contributor, viewer):
    link = f'href="{reverse("cards:register")}?model={model.name}"'
    client.force_login(contributor)
    assert link in client.get(reverse("registry:model", args=[model.name])).content.decode()
    client.force_login(viewer)
    assert link not in client.get(reverse("registry:model", args=[model.name])).content.decode()


def test_the_model_page_draws_the_stage_flow_with_the_rollback_target(client, model, promoted, viewer):
    client.force_login(viewer)
    html = client.get(reverse("registry:model", args=[model.name])).content.decode()
    flow = html[html.index('class="flow"') : html.index("</ol>", html.index('class="flow"'))]
    columns = re.split(r'<li class="col-', flow)[1:]
    assert [c.split('"')[0] for c in columns] == ["draft", "staging", "production", "archived"]
    assert "v4" in columns[0] and "v3" in columns[1] and "v2" in columns[2] and "v1" in columns[3]
    assert "is-rollback" in columns[3] and "rollback target" in columns[3]
    # The hero names production and where a rollback goes.
    assert "fraud-scorer/v2" in html and "↩ fraud-scorer/v1" in html
    # The timeline lists stage changes with who and why.
    assert "Replaced by fraud-scorer/v2" in html and "test: to production" in html


def test_the_model_page_leads_to_the_production_card_and_the_comparison(client, model, promoted, viewer):
    client.force_login(viewer)
    html = client.get(reverse("registry:model", args=[model.name])).content.decode()
    panel = html[
        html.index('data-testid="model-card"') : html.index(
            "</section>", html.index('data-testid="model-card"')
        )
    ]
    assert f'href="{reverse("cards:card", args=[model.name, 2])}"' in panel  # v2 is in production
    assert "Read the model card of v2" in panel
    assert f'href="{reverse("cards:compare", args=[model.name])}"' in panel


def test_without_production_the_model_page_leads_to_the_newest_card(client, model, version, viewer):
    client.force_login(viewer)
    html = client.get(reverse("registry:model", args=[model.name])).content.decode()
    assert f'href="{reverse("cards:card", args=[model.name, version.number])}"' in html
    assert f"the newest version, v{version.number}" in html


def test_the_version_page_leads_with_its_card_and_how_complete_it_is(client, model, promoted, viewer):
    client.force_login(viewer)
    v3 = promoted["v3"]
    html = client.get(reverse("registry:version", args=[model.name, v3.number])).content.decode()
    panel = html[
        html.index('data-testid="card-panel"') : html.index(
            "</section>", html.index('data-testid="card-panel"')
        )
    ]
    assert html.index('data-testid="card-panel"') < html.index('id="artifacts"')
    assert f'class="btn primary" href="{reverse("cards:card", args=[model.name, v3.number])}"' in panel
    assert "sections written" in panel and "the promotion policy" in panel
    assert f"{reverse('cards:compare', args=[model.name])}?head={v3.number}" in panel


def test_the_version_page_shows_the_evidence(client, model, promoted, viewer):
    client.force_login(viewer)
    v3 = promoted["v3"]
    response = client.get(reverse("registry:version", args=[model.name, v3.number]))
    html = response.content.decode()
    assert f"fraud-scorer/v{v3.number}" in html and str(v3.uuid) in html
    assert "ab" * 32 in html and "cd" * 32 in html  # full digests
    assert "120.6\xa0KB" in html  # 123456 bytes, human readable
    # s3:// is text, an https run URL is a link.
    assert "s3://models/fraud/model.onnx" in html
    assert 'href="s3://' not in html
    assert 'href="https://mlflow.example.com/runs/42"' in html
    assert "0123456789abcdef0123" in html and "c6i.xlarge" in html and "0.0125" in html
    # Compared with production v2, and the slice chart is drawn.
    assert response.context["page"].baseline == promoted["v2"]
    assert "<svg" in html and 'class="chart"' in html
    assert "Slices against production v2" in html


def test_the_version_page_highlights_slice_regressions(client, model, promoted, contributor, viewer):
    worse = version_register_for_tests(
        actor=contributor,
        model=model,
        metrics={"auc": 0.80, "log_loss": 0.30},
        evaluation={
            "dataset": "payments-holdout",
            "metrics": [{"name": "auc", "value": 0.80}, {"name": "log_loss", "value": 0.30}],
            "slices": [
                {"slice": "region=r0", "metric": "auc", "value": 0.70, "sample_count": 100},
                {"slice": "region=r1", "metric": "auc", "value": 0.95, "sample_count": 100},
            ],
        },
    )
    client.force_login(viewer)
    response = client.get(reverse("registry:version", args=[model.name, worse.number]))
    page = response.context["page"]
    assert [row.slice_key for row in page.regressions] == ["region=r0"]
    assert {m.name: m.is_better for m in page.metrics} == {"auc": False, "log_loss": False}
    html = response.content.decode()
    assert html.count('<tr class="regression">') == 3  # two metrics and one slice
    assert "1 worse</span> of 2 compared slice metrics" in html
    assert '2 worse</span> <span class="badge plain">0 better</span> of 2 overall metrics' in html
    assert 'class="dot worse"' in html and 'class="dot better"' in html


def test_a_version_without_a_baseline_says_so(client, model, version, viewer):
    client.force_login(viewer)
    html = client.get(reverse("registry:version", args=[model.name, version.number])).content.decode()
    assert "no production version" in html
    assert "has no version in production to compare with" in html
    assert "Delta" not in html and "Verdict" not in html


def test_user_text_is_escaped_and_web_links_only_for_http(client, contributor, team, viewer):
    model = model_create_for_tests(actor=contributor, name="escaping", team=team)
    version = version_register_for_tests(
        actor=contributor,
        model=model,
        description="<script>alert(1)</script>",
        artifacts=[
            {
                "name": "<b>w</b>",
                "kind": "weights",
                "uri": "https://cdn.example.com/w?a=1&b=<2>",
                "sha256": "ef" * 32,
            }
        ],
        source_run={
            "tracking_system": "mlflow",
            "run_id": "<img src=x>",
            "url": "",
            "git_commit": "",
            "training_data": "javascript:alert(1)",
        },
    )
    client.force_login(viewer)
    html = client.get(reverse("registry:version", args=[model.name, version.number])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>w</b>" not in html and "<img src=x>" not in html
    assert 'href="https://cdn.example.com/w?a=1&amp;b=&lt;2&gt;"' in html
    assert 'href="javascript:' not in html


def test_the_home_page_shows_production_and_rollback_targets(client, model, promoted, viewer):
    client.force_login(viewer)
    response = client.get(reverse("home"))
    assert [v.identifier for v in response.context["production"]] == ["fraud-scorer/v2"]
    html = response.content.decode()
    assert "↩ v1" in html and "Recent activity" in html


@pytest.mark.parametrize("page", PAGES)
def test_pages_keep_to_the_content_security_policy(client, model, promoted, viewer, page):
    client.force_login(viewer)
    response = client.get(page_urls(model, promoted["v3"])[page])
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert " style=" not in html and "<style" not in html and "<script" not in html
    assert "//cdn" not in html and "fonts.googleapis" not in html


# --- The templates only format --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_rendering_a_page_reads_nothing(
    client, model, promoted, contributor, django_assert_num_queries, page
):
    """Everything a page shows, its promotion and gate parts too, is read by the view: rendering its
    template again from the same context runs no query."""
    candidate = promoted["v3"]
    gate_run_execute(
        run_id=gate_run_start(actor=contributor, version=candidate, target_stage="production").pk
    )
    client.force_login(contributor)
    response = client.get(page_urls(model, candidate)[page])
    assert response.status_code == 200
    # The context the page was rendered with, context processors' values included, as plain data.
    context = Context(response.context[0].flatten())
    template = engines["django"].get_template(TEMPLATES[page]).template
    with django_assert_num_queries(0):
        html = template.render(context)
    assert model.name in html


def test_the_version_page_draws_its_slices_with_the_shared_chart(client, model, promoted, viewer):
    client.force_login(viewer)
    response = client.get(page_urls(model, promoted["v3"])["version"])
    chart = response.context["slice_chart"]
    assert [panel.title for panel in chart.panels] == ["auc by slice"]
    html = response.content.decode()
    assert (
        '<svg class="chart" viewBox="0 0 1100' in html
        and 'aria-labelledby="chart-1-title chart-1-desc"' in html
    )
    assert "the vertical tick is production v2" in html and '<ul class="legend">' in html


# --- Query counts that do not grow with rows -----------------------------------------------------------

# Pinned at what each page runs today (two of them are the session and the user), so a page that starts
# growing with its rows, or gains a query, fails here rather than in production.
HOME_QUERIES = 13  # + the reader (accounts.visibility), open incidents, production, recent events,
# counts by stage, 2 for the trail-wide permission, the reader's models for the recent events (their names,
# when they see few), 2 for the reviewer queue (the policy revisions of requests awaiting sign-off, my
# requests; 2 more when some await: my org-wide roles, the page of them), my superseded requests
MODEL_PAGE_QUERIES = 8  # + model, its object permissions, versions, transitions, open requests,
#                         2 for register permission
VERSION_PAGE_QUERIES = 17  # + model, permissions, version, baseline, metrics, slices, stage changes, audit,
#                            artifacts, the gate panel's runs and request permission, the promotion
#                            panel's requests (its permissions are the ones the model lookup read), the
#                            card panel's current revision and the policy that says what it must hold, and
#                            the import of its evidence from a tracked run


def test_the_home_page_counts_up_to_a_cap_and_says_so(client, contributor, viewer, monkeypatch):
    monkeypatch.setattr("warehouse.registry.selectors.COUNT_CAP", 2)
    for index in range(3):
        model = model_create_for_tests(actor=contributor, name=f"counted-{index}")
        version_register_for_tests(actor=contributor, model=model)
        assign_perm("registry.view_registeredmodel", viewer, model)
    client.force_login(viewer)
    html = client.get(reverse("home")).content.decode()
    stats = html[html.index('aria-label="Versions by stage"') :]
    assert '<span class="n">2+</span><span class="label">Models</span>' in stats
    assert 'class="n">0</span><span class="label"><span class="dot stage-production">' in stats


def test_the_home_page_queries_do_not_grow(
    client, django_assert_max_num_queries, contributor, team, viewer, responder, superuser
):
    """With incidents present too: each model has one firing and, after a rollback, one mitigated."""
    client.force_login(viewer)
    made = []

    def build(rows):
        while len(made) < rows:
            model = model_create_for_tests(actor=contributor, team=team)
            version_move(model.versions.get(number=1), Stage.STAGING, Stage.PRODUCTION, actor=contributor)
            replacement = version_register_for_tests(actor=contributor, model=model)
            version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
            incident_about(model, superuser, fingerprint="mitigated")
            production_rollback(actor=responder, model=model, expected_current=replacement, reason="Drift")
            incident_about(model, superuser, fingerprint="firing")
            made.append(model)
        return reverse("home")

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=HOME_QUERIES, build=build)
    response = client.get(reverse("home"))
    assert len(response.context["production"]) == 50
    shown = response.context["open_incidents"]
    assert len(shown.rows) == HOME_INCIDENT_ROWS and shown.more and len(shown.firing) == HOME_INCIDENT_ROWS


# --- Incidents lead the home page ----------------------------------------------------------------------


@pytest.fixture
def incidents_open(model, version, contributor, responder, superuser):
    """fraud-scorer: v2 replaced v1, an alert about it was mitigated by rolling back, and another fires."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    current = version_register_for_tests(actor=contributor, model=model)
    version_move(current, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    mitigated = incident_about(model, superuser, fingerprint="drift", summary="PSI drift 0.31")
    production_rollback(actor=responder, model=model, expected_current=current, reason="Drift")
    firing = incident_about(model, superuser, fingerprint="latency", summary="p99 latency 900 ms")
    firing.alertname = "ModelLatencyHigh"
    firing.save()
    return firing, mitigated


def test_firing_incidents_lead_the_home_page(client, viewer, incidents_open, model):
    firing, mitigated = incidents_open
    client.force_login(viewer)

    html = client.get(reverse("home")).content.decode()

    panel = html.index('data-testid="open-incidents"')
    assert panel < html.index('aria-label="Versions by stage"') < html.index("production-title")
    assert "1 firing incident" in html
    assert html.index("ModelLatencyHigh") < html.index("ModelPredictionDrift")  # firing first
    assert reverse("incidents:incident", args=[firing.pk]) in html
    assert f'href="{reverse("incidents:go", args=[model.name])}"' in html
    assert "Mitigated by rollback v2 → v1 at" in html and "<strong>ravi</strong>" in html


def test_the_home_page_shows_no_incident_of_a_model_the_reader_cannot_see(client, outsider, incidents_open):
    client.force_login(outsider)

    html = client.get(reverse("home")).content.decode()

    assert 'data-testid="open-incidents"' not in html and "ModelLatencyHigh" not in html


def test_resolved_incidents_leave_the_home_page(client, viewer, incidents_open):
    Incident.objects.update(status=IncidentStatus.RESOLVED)
    client.force_login(viewer)

    assert 'data-testid="open-incidents"' not in client.get(reverse("home")).content.decode()


def test_rendering_the_home_page_with_incidents_reads_nothing(
    client, viewer, incidents_open, django_assert_num_queries
):
    client.force_login(viewer)
    response = client.get(reverse("home"))
    context = Context(response.context[0].flatten())
    template = engines["django"].get_template(TEMPLATES["home"]).template
    with django_assert_num_queries(0):
        html = template.render(context)
    assert "ModelLatencyHigh" in html and "Mitigated by rollback" in html


def test_the_model_page_queries_do_not_grow(
    client, django_assert_max_num_queries, model, version, contributor, viewer
):
    """Versions and timeline rows: each new version is also archived, so both grow together."""
    client.force_login(viewer)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    def build(rows):
        while model.versions.count() < rows + 1:
            added = version_register_for_tests(actor=contributor, model=model)
            version_move(added, Stage.ARCHIVED, actor=contributor)
        return reverse("registry:model", args=[model.name])

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=MODEL_PAGE_QUERIES, build=build)
    page = client.get(reverse("registry:model", args=[model.name])).context["page"]
    assert len(page.versions) == 51 and len(page.transitions) == 50


def test_the_version_page_queries_do_not_grow(
    client, django_assert_max_num_queries, model, version, contributor, viewer
):
    """Slices: a production baseline and a candidate with n slices each."""
    client.force_login(viewer)

    def build(rows):
        baseline = version_register_for_tests(actor=contributor, model=model, slices=rows)
        version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
        candidate = version_register_for_tests(actor=contributor, model=model, slices=rows)
        return reverse("registry:version", args=[model.name, candidate.number])

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=VERSION_PAGE_QUERIES, build=build)
