"""The gate and policy pages: who may open them and act on them, what they show, and how many queries they
cost.

Each page climbs the ladder: anonymous → sign-in, outsider → 404 (the model does not exist for them), viewer →
reads but has no gate button and no edit form (a POST is 403 and on the record), contributor → runs the gate,
policy admin → edits the policy. Finished runs are made by calling the worker's service directly.
"""

import re

import pytest
from django.template import Context, engines
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from tests.pages.test_pages import VERSION_PAGE_QUERIES
from tests.registry.test_pages import assert_queries_do_not_grow
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.promotions.models import GateRun, GateState, PolicyRevision
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.policies.services import policy_revise
from warehouse.registry.models import Stage

METRICS = [{"name": "auc", "value": 0.91}, {"name": "log_loss", "value": 0.21}]


def evaluation(*rows: tuple[str, str, float, int]) -> dict:
    """An evaluation body with these (slice, metric, value, sample_count) rows."""
    return {
        "dataset": "payments-holdout",
        "dataset_version": "2026-10",
        "metrics": METRICS,
        "slices": [
            {"slice": key, "metric": metric, "value": value, "sample_count": samples}
            for key, metric, value, samples in rows
        ],
    }


BASELINE_SLICES = evaluation(
    ("region=r0", "auc", 0.80, 1000),
    ("region=r1", "auc", 0.80, 1000),
    ("region=r2", "auc", 0.80, 1000),
    ("region=r3", "auc", 0.80, 1000),
    ("region=r4", "log_loss", 0.20, 1000),
)
# Against BASELINE_SLICES under the default rule for Production (at most 0.01 worse, from 100 samples).
CANDIDATE_SLICES = evaluation(
    ("region=r0", "auc", 0.70, 1000),  # regressed by 0.10
    ("region=r1", "auc", 0.795, 1000),  # within: 0.005 worse
    ("region=r2", "auc", 0.85, 1000),  # improved
    ("region=r3", "auc", 0.60, 40),  # too few samples to judge
    ("region=r4", "log_loss", 0.26, 1000),  # regressed: lower is better, 0.06 worse
    ("region=r9", "auc", 0.90, 1000),  # production does not report it
)


def gate_finished(version, actor, target: str = "production") -> GateRun:
    """A gate run of `version`, requested by `actor` and run to the end as a worker would."""
    run = gate_run_start(actor=actor, version=version, target_stage=target)
    gate_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def regressing_candidate(model, version, contributor):
    """fraud-scorer: v2 in production with BASELINE_SLICES (v1 archived); v3 in staging, CANDIDATE_SLICES."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    baseline = version_register_for_tests(actor=contributor, model=model, evaluation=BASELINE_SLICES)
    version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    candidate = version_register_for_tests(actor=contributor, model=model, evaluation=CANDIDATE_SLICES)
    return version_move(candidate, Stage.STAGING, actor=contributor)


@pytest.fixture
def candidate(model, version, contributor):
    return regressing_candidate(model, version, contributor)


@pytest.fixture
def failed_run(candidate, contributor):
    run = gate_finished(candidate, contributor)
    assert run.state == GateState.FAILED
    return run


def run_url(run, view: str = "gate-run") -> str:
    return reverse(f"promotions:{view}", args=[run.version.model.name, run.version.number, run.pk])


def version_url(version) -> str:
    return reverse("registry:version", args=[version.model.name, version.number])


def policy_url(model) -> str:
    return reverse("promotions:policy", args=[model.name])


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence").first()


RULES = {
    "draft_to_staging": {"required_checks": ["source_run", "evaluation"]},
    "staging_to_production": {
        "required_checks": ["slices", "metric_bars"],
        "metric_bars": [{"metric": "auc", "op": ">=", "value": 0.8}],
        "slices": {"max_worsening": 0.02, "min_samples": 50},
    },
}


# --- Who may open what ---------------------------------------------------------------------------------


def read_urls(run, model) -> dict[str, str]:
    return {
        "gate-run": run_url(run),
        "gate-slices": run_url(run, "gate-slices"),
        "policy": policy_url(model),
        "global-policy": reverse("promotions:global-policy"),
        "revision-json": reverse("promotions:global-policy-revision-json", args=[run.policy_revision.number]),
    }


READ_PAGES = ["gate-run", "gate-slices", "policy", "global-policy", "revision-json"]


def test_it_sends_anonymous_visitors_to_sign_in(client, failed_run, model):
    urls = read_urls(failed_run, model)
    answers = {page: client.get(url) for page, url in urls.items()}
    assert {page: (answer.status_code, answer.get("Location")) for page, answer in answers.items()} == {
        page: (302, f"{reverse('accounts:sign-in')}?next={url}") for page, url in urls.items()
    }


def test_it_sends_anonymous_posts_to_sign_in_and_writes_nothing(client, candidate, model):
    runs = GateRun.objects.count()
    for url, data in [
        (
            reverse("promotions:gate-start", args=[model.name, candidate.number]),
            {"target_stage": "production"},
        ),
        (policy_url(model), {"reason": "x"}),
        (reverse("promotions:global-policy"), {"reason": "x"}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:sign-in"))
    assert GateRun.objects.count() == runs
    assert not PolicyRevision.objects.filter(author__isnull=False).exists()


@pytest.mark.parametrize("page", ["gate-run", "gate-slices", "policy"])
def test_it_answers_404_to_outsiders(client, failed_run, model, outsider, page):
    client.force_login(outsider)
    response = client.get(read_urls(failed_run, model)[page])
    assert response.status_code == 404


def test_a_policy_revision_of_a_hidden_model_is_404(client, model, policy_admin, outsider):
    policy_revise(actor=policy_admin, model=model, rules_data=RULES, reason="Ours.")
    client.force_login(outsider)
    assert client.get(reverse("promotions:policy-revision-json", args=[model.name, 1])).status_code == 404


def test_an_outsider_cannot_start_a_gate_and_learns_nothing(client, candidate, model, outsider):
    client.force_login(outsider)
    response = client.post(
        reverse("promotions:gate-start", args=[model.name, candidate.number]), {"target_stage": "production"}
    )
    assert response.status_code == 404
    assert not GateRun.objects.exists()


def test_a_gate_run_of_another_version_is_404(client, failed_run, model, viewer):
    client.force_login(viewer)
    url = reverse("promotions:gate-run", args=[model.name, 1, failed_run.pk])
    assert client.get(url).status_code == 404
    assert client.get(reverse("promotions:gate-run", args=[model.name, 3, 9999])).status_code == 404


@pytest.mark.parametrize(
    "role", ["viewer", "contributor", "reviewer", "approver", "responder", "policy_admin"]
)
def test_every_role_in_the_team_reads_every_page(client, request, failed_run, model, role):
    client.force_login(request.getfixturevalue(role))
    statuses = {page: client.get(url).status_code for page, url in read_urls(failed_run, model).items()}
    assert statuses == dict.fromkeys(READ_PAGES, 200)


def test_a_viewer_has_no_gate_button_and_a_post_is_refused_on_the_record(client, candidate, model, viewer):
    client.force_login(viewer)
    html = client.get(version_url(candidate)).content.decode()
    assert 'id="gate"' in html and "Quality gate" in html
    assert reverse("promotions:gate-start", args=[model.name, candidate.number]) not in html
    assert 'disabled aria-describedby="gate-why">Run the gate for Production</button>' in html
    assert "Needs the contributor role on fraud-scorer." in html

    response = client.post(
        reverse("promotions:gate-start", args=[model.name, candidate.number]), {"target_stage": "production"}
    )

    assert response.status_code == 403
    assert not GateRun.objects.exists()
    refusal = last_event()
    assert (refusal.action, refusal.actor, refusal.model_name) == ("permission.denied", viewer, model.name)
    assert refusal.data["permission"] == "registry.request_promotion"


def test_a_contributor_runs_the_gate_from_the_version_page(client, candidate, model, contributor):
    client.force_login(contributor)
    html = client.get(version_url(candidate)).content.decode()
    form = html[html.index('id="gate"') :]
    assert f'action="{reverse("promotions:gate-start", args=[model.name, candidate.number])}"' in form
    assert 'name="target_stage" value="production"' in form and "Run the gate for Production" in form

    response = client.post(
        reverse("promotions:gate-start", args=[model.name, candidate.number]),
        {"target_stage": "production"},
        follow=True,
    )

    run = GateRun.objects.get()
    assert (run.version, run.target_stage, run.state, run.requested_by) == (
        candidate,
        Stage.PRODUCTION,
        GateState.PENDING,
        contributor,
    )
    assert response.redirect_chain == [(run_url(run), 302)]
    assert f"Gate run #{run.pk} queued" in response.content.decode()
    assert last_event().action == "gate.requested"


def test_a_draft_is_offered_the_gate_for_staging(client, model, version, contributor):
    client.force_login(contributor)
    html = client.get(version_url(version)).content.decode()
    assert "Run the gate for Staging" in html and 'value="staging"' in html


def test_no_gate_is_offered_for_a_version_in_production(client, model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    client.force_login(contributor)
    html = client.get(version_url(version)).content.decode()
    assert "Run the gate for" not in html and "No gate has been run for this version yet." in html


def test_asking_again_while_a_gate_is_open_shows_that_one(client, candidate, model, contributor):
    first = gate_run_start(actor=contributor, version=candidate, target_stage="production")
    client.force_login(contributor)

    html = client.get(version_url(candidate)).content.decode()
    assert "Run the gate for Production" not in html and f'href="{run_url(first)}"' in html

    response = client.post(
        reverse("promotions:gate-start", args=[model.name, candidate.number]),
        {"target_stage": "production"},
        follow=True,
    )
    assert response.redirect_chain == [(run_url(first), 302)]
    assert "is already queued" in response.content.decode()
    assert GateRun.objects.count() == 1


def test_a_gate_for_the_wrong_stage_is_refused_with_a_message(client, model, version, contributor):
    client.force_login(contributor)
    response = client.post(
        reverse("promotions:gate-start", args=[model.name, version.number]),
        {"target_stage": "production"},
        follow=True,
    )
    assert response.redirect_chain == [(version_url(version), 302)]
    html = response.content.decode()
    assert "The gate was not started" in html and "cannot be gated for Production" in html
    assert not GateRun.objects.exists()
    assert last_event().action == "gate.refused"

    response = client.post(
        reverse("promotions:gate-start", args=[model.name, version.number]),
        {"target_stage": "archived"},
        follow=True,
    )
    assert "A gate guards the moves to Staging and to Production." in response.content.decode()
    assert not GateRun.objects.exists()


def test_only_policy_admins_get_the_edit_form(client, model, contributor, viewer, policy_admin):
    for user, sees in [(viewer, False), (contributor, False), (policy_admin, True)]:
        client.force_login(user)
        html = client.get(policy_url(model)).content.decode()
        assert ('id="edit"' in html) is sees, user
        assert ('name="staging_to_production-metric_bars"' in html) is sees, user


@pytest.mark.parametrize("role", ["viewer", "contributor", "approver"])
def test_a_policy_post_without_the_permission_is_refused_on_the_record(client, request, model, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    response = client.post(
        policy_url(model), {"reason": "Tighter.", "draft_to_staging-metric_bars": "auc >= 2"}
    )
    assert response.status_code == 403
    assert not PolicyRevision.objects.filter(author__isnull=False).exists()
    refusal = last_event()
    assert (refusal.action, refusal.actor, refusal.data["permission"]) == (
        "permission.denied",
        user,
        "registry.admin_policy",
    )


def test_a_policy_admin_saves_a_revision_from_the_page(client, model, policy_admin):
    client.force_login(policy_admin)
    form = client.get(policy_url(model)).context["form"]
    data = {
        f"{section.prefix}-{name}": value
        for section in form.sections
        for name, value in section.initial.items()
        if value not in (False, None)
    }
    data["staging_to_production-metric_bars"] = "auc >= 0.85\nlog_loss < 0.3"
    data["staging_to_production-baseline"] = "auc 2% relative\nlog_loss 0.01 lower"
    data["reason"] = "Bars from the risk review."

    response = client.post(policy_url(model), data, follow=True)

    assert response.redirect_chain == [(policy_url(model) + "#main", 302)]
    assert "Saved revision 1 of the policy of fraud-scorer." in response.content.decode()
    revision = PolicyRevision.objects.get(policy__model=model)
    rules = revision.rules["staging_to_production"]
    assert rules["metric_bars"] == [
        {"metric": "auc", "op": ">=", "value": 0.85},
        {"metric": "log_loss", "op": "<", "value": 0.3},
    ]
    assert rules["baseline"] == [
        {"metric": "auc", "tolerance": 0.02, "relative": True, "direction": None},
        {"metric": "log_loss", "tolerance": 0.01, "relative": False, "direction": "lower"},
    ]
    # What was not touched is what the global default said.
    assert (
        rules["required_checks"] == revision.policy.current.rules["staging_to_production"]["required_checks"]
    )
    assert (revision.author, revision.reason) == (policy_admin, "Bars from the risk review.")
    assert last_event().action == "policy.revised"


def test_the_global_policy_is_edited_by_superusers_only(client, superuser, policy_admin):
    client.force_login(policy_admin)
    assert 'id="edit"' not in client.get(reverse("promotions:global-policy")).content.decode()
    assert client.post(reverse("promotions:global-policy"), {"reason": "x"}).status_code == 403
    refusal = last_event()
    assert (refusal.action, refusal.data["permission"]) == ("permission.denied", "superuser")

    client.force_login(superuser)
    form = client.get(reverse("promotions:global-policy")).context["form"]
    assert form is not None
    data = {
        f"{section.prefix}-{name}": value
        for section in form.sections
        for name, value in section.initial.items()
        if value not in (False, None)
    }
    data["reason"] = "Latency matters everywhere."
    data["staging_to_production-latency_p95_ms_max"] = "40"
    response = client.post(reverse("promotions:global-policy"), data)
    assert response.status_code == 302
    current = PolicyRevision.objects.filter(policy__model__isnull=True).order_by("-number").first()
    assert current.number == 2 and current.rules["staging_to_production"]["latency_p95_ms_max"] == 40.0


# --- What the pages show -------------------------------------------------------------------------------


def test_the_gate_pages_of_a_request_lead_back_to_the_request(client, model, version, contributor, viewer):
    from warehouse.promotions.requests.services import promotion_request_open

    candidate = version_register_for_tests(actor=contributor, model=model)
    promotion = promotion_request_open(
        actor=contributor, version=candidate, target_stage=Stage.STAGING, justification="Shadow traffic."
    )
    client.force_login(viewer)
    back = reverse("promotions:request", args=[model.name, promotion.pk])

    for view in ("gate-run", "gate-slices"):
        html = client.get(run_url(promotion.gate_run, view)).content.decode()
        assert f'href="{back}">Back to request #{promotion.pk}</a>' in html, view
        assert f'href="{back}">Request #{promotion.pk}</a>' in html, view


def test_a_gate_run_without_a_request_leads_back_to_its_version(client, failed_run, model, viewer):
    client.force_login(viewer)

    html = client.get(run_url(failed_run)).content.decode()

    assert "Back to request" not in html and f">Back to v{failed_run.version.number}</a>" in html


def test_the_version_page_lists_its_gate_runs(client, candidate, failed_run, contributor, viewer):
    open_run = gate_run_start(actor=contributor, version=candidate, target_stage="production")
    client.force_login(viewer)
    html = client.get(version_url(candidate)).content.decode()
    panel = html[html.index('id="gate"') : html.index('id="artifacts"')]
    rows = re.findall(r"<tr>.*?</tr>", panel[panel.index("<tbody>") :], flags=re.S)
    assert len(rows) == 2
    assert f'href="{run_url(open_run)}">#{open_run.pk}' in rows[0] and "Queued" in rows[0]
    assert f'href="{run_url(failed_run)}">#{failed_run.pk}' in rows[1] and "Failed" in rows[1]
    assert "required failed" in rows[1] and "passed" in rows[1]
    assert 'href="/policy/?revision=1#revision-1">global default r1' in rows[1]
    assert ">1</td>" in rows[1]  # attempts


def test_an_open_run_shows_progress_and_follows_itself(client, candidate, contributor, viewer):
    run = gate_run_start(actor=contributor, version=candidate, target_stage="production")
    client.force_login(viewer)

    html = client.get(run_url(run)).content.decode()
    # htmx asks for the live part again every second; without JavaScript, the page reloads itself.
    assert f'id="live" class="live" hx-get="{run_url(run)}" hx-trigger="every 1s"' in html
    head = html[: html.index("</head>")]
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in head
    assert "/static/js/htmx.min.js" in head and 'name="htmx-config"' in head
    assert "Queued" in html
    # Never handed to a broker (on_commit does not run in a test transaction): shown as kept for the sweeper.
    assert "the sweeper hands it to a worker" in html
    assert "Checks" in html and "Waiting" in html and "0 of 11 checks done" in html

    finished = [
        {"check": name, "status": status, "summary": f"{name} said {status}"}
        for name, status in zip(Check.ALL[:4], ("passed", "failed", "warning", "passed"), strict=True)
    ]
    GateRun.objects.filter(pk=run.pk).update(
        state=GateState.RUNNING, checks_done=4, attempts=1, progress=finished
    )
    html = client.get(run_url(run)).content.decode()
    assert "4 of 11 checks done" in html
    assert '<progress max="11" value="4"' in html
    assert html.count("icon-passed") == 2 and "icon-failed" in html and "icon-warning" in html
    assert f"{Check.ALL[1]} said failed" in html
    assert html.count("icon-running") >= 1 and html.count('data-status="waiting"') == 6
    assert "reloads itself" not in html and "all at once" not in html


def test_a_run_queued_by_the_broker_says_so(client, candidate, contributor, viewer):
    run = gate_run_start(actor=contributor, version=candidate, target_stage="production")
    GateRun.objects.filter(pk=run.pk).update(enqueued_at=run.requested_at)
    client.force_login(viewer)
    html = client.get(run_url(run)).content.decode()
    assert "Handed to the workers" in html and "the sweeper" not in html


def test_a_finished_run_shows_its_checks_like_ci_and_does_not_reload(client, failed_run, model, viewer):
    client.force_login(viewer)
    response = client.get(run_url(failed_run))
    html = response.content.decode()
    assert "http-equiv" not in html
    assert "Gate for Production" in html and "gate-failed" in html
    # Every check, each with its status and whether it blocks.
    assert html.count('<li class="check status-') == 11
    slices = html[html.index('id="check-slices"') :]
    slices = slices[: slices.index("</li>")]
    assert "status-failed" in html[html.index('id="check-slices"') - 40 : html.index('id="check-slices"')]
    assert "Required" in slices and "2 worse of 4 compared with fraud-scorer/v2" in slices
    # The numbers as a table, the worst regression first, and the raw numbers behind a toggle.
    assert slices.index("region=r0") < slices.index("region=r4")
    assert '<details class="raw">' in slices and "&quot;rows&quot;" in slices
    assert f'href="{run_url(failed_run, "gate-slices")}"' in slices
    # What it compared against and under which rules, when, and how often it was tried.
    assert f'href="{version_url(failed_run.baseline)}"' in html
    assert 'href="/policy/?revision=1#revision-1"' in html
    assert "Duration" in html and "Attempts" in html and "Requested" in html
    # Blocking checks are listed first, with links to them.
    assert 'href="#check-slices">Slice regressions</a>' in html


def test_the_slice_view_lists_every_slice_as_the_gate_judged_it(
    client, failed_run, model, contributor, viewer
):
    # Production changes after the gate ran: the view still shows what the gate compared.
    newer = version_register_for_tests(actor=contributor, model=model)
    version_move(newer, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    client.force_login(viewer)

    response = client.get(run_url(failed_run, "gate-slices"))

    view = response.context["view"]
    assert [(row["slice"], row["verdict"]) for row in view.rows] == [
        ("region=r0", "worse"),
        ("region=r4", "worse"),
        ("region=r1", "within_tolerance"),
        ("region=r2", "better"),
        ("region=r3", "too_few_samples"),
        ("region=r9", "new_in_candidate"),
    ]
    assert view.counts["worse"] == 2 and view.counts["not_checked"] == 0
    html = response.content.decode()
    assert html.count('class="v-worse regression"') == 2
    assert "New in the candidate" in html and "without a production value" not in html
    assert "production v2" in html and "0.8</td>" in html  # v2's values, not the newer production's
    assert "at most <strong>0.01</strong>" in html and "fewer than <strong>100</strong> samples" in html
    # The chart: server-rendered SVG, a bar per compared slice coloured by verdict.
    assert html.count('<svg class="chart delta-chart"') == 2  # auc and log_loss
    assert html.count('<g class="v-worse">') == 2
    assert html.count('<g class="v-better">') == 1
    assert 'class="threshold"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sort=delta", ["region=r3", "region=r0", "region=r1", "region=r2", "region=r4", "region=r9"]),
        ("sort=-delta", ["region=r4", "region=r2", "region=r1", "region=r0", "region=r3", "region=r9"]),
        ("sort=slice", ["region=r0", "region=r1", "region=r2", "region=r3", "region=r4", "region=r9"]),
        # Ties keep the gate's order.
        ("sort=-samples", ["region=r0", "region=r4", "region=r1", "region=r2", "region=r9", "region=r3"]),
        ("verdict=worse", ["region=r0", "region=r4"]),
        ("verdict=worse&sort=-slice", ["region=r4", "region=r0"]),
        # A link made before the verdicts were renamed still filters.
        ("verdict=regressed", ["region=r0", "region=r4"]),
        ("sort=nonsense", ["region=r0", "region=r4", "region=r1", "region=r2", "region=r3", "region=r9"]),
    ],
)
def test_the_slice_table_sorts_and_filters_on_the_server(client, failed_run, viewer, query, expected):
    client.force_login(viewer)
    response = client.get(f"{run_url(failed_run, 'gate-slices')}?{query}")
    assert [row["slice"] for row in response.context["view"].rows] == expected
    html = response.content.decode()
    table = html[html.index('id="table"') :]
    assert re.findall(r'<th scope="row" class="mono">([^<]+)</th>', table) == expected


def test_sort_headers_are_links_that_toggle(client, failed_run, viewer):
    client.force_login(viewer)
    html = client.get(f"{run_url(failed_run, 'gate-slices')}?sort=delta").content.decode()
    assert 'aria-sort="ascending"><a class="sort active" href="?sort=-delta#table"' in html
    assert 'href="?sort=slice#table"' in html


def test_an_open_runs_slice_view_waits_and_reloads(client, candidate, contributor, viewer):
    run = gate_run_start(actor=contributor, version=candidate, target_stage="production")
    client.force_login(viewer)
    html = client.get(run_url(run, "gate-slices")).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "they appear here when it finishes" in html


def test_the_policy_page_shows_the_global_default_until_the_model_has_its_own(client, model, viewer):
    client.force_login(viewer)
    response = client.get(policy_url(model))
    html = response.content.decode()
    assert response.context["page"].uses_global_default
    assert "Global default applies" in html and "has no revisions of its own yet" in html
    assert "Rules of global default r1" in html
    assert reverse("promotions:global-policy-revision-json", args=[1]) in html


def test_the_policy_page_renders_rules_json_history_and_warnings(client, model, policy_admin, viewer):
    policy_revise(actor=policy_admin, model=model, rules_data=RULES, reason="First of our own.")
    second = {**RULES, "staging_to_production": {**RULES["staging_to_production"], "slices": None}}
    second["staging_to_production"]["metric_bars"] = [{"metric": "aucc", "op": ">=", "value": 0.8}]
    policy_revise(actor=policy_admin, model=model, rules_data=second, reason="No slices <b>for now</b>.")
    client.force_login(viewer)

    html = client.get(policy_url(model)).content.decode()

    assert "In force: <strong>revision 2</strong>" in html
    rules = html[html.index('id="revision-2"') : html.index('id="json"')]
    assert '<span class="mono">aucc</span> ≥ 0.8' in rules and "not checked" in rules
    # JSON, pretty, and as a download.
    assert "&quot;staging_to_production&quot;: {" in html
    assert reverse("promotions:policy-revision-json", args=[model.name, 2]) in html
    # History, newest first, each viewable; user text escaped.
    history = html[html.index('id="history"') :]
    assert history.index("r2") < history.index("r1")
    assert 'href="?revision=1#revision-1"' in history
    assert "No slices &lt;b&gt;for now&lt;/b&gt;." in history
    # A name no version reports is a warning, not an error.
    assert "Staging → Production: no version reports a metric called &#x27;aucc&#x27;." in html

    old = client.get(f"{policy_url(model)}?revision=1").content.decode()
    assert 'id="revision-1"' in old and "no longer in force" in old
    assert "may worsen by at most 0.02" in old.lower()
    assert client.get(f"{policy_url(model)}?revision=9").status_code == 404
    assert client.get(f"{policy_url(model)}?revision=x").status_code == 404


def test_a_revision_downloads_as_json(client, model, policy_admin, viewer):
    policy_revise(actor=policy_admin, model=model, rules_data=RULES, reason="Ours.")
    client.force_login(viewer)
    response = client.get(reverse("promotions:policy-revision-json", args=[model.name, 1]))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="fraud-scorer-policy-r1.json"'
    body = response.json()
    assert (body["scope"], body["number"], body["author"], body["reason"]) == (
        "fraud-scorer",
        1,
        "polly",
        "Ours.",
    )
    assert body["rules"] == PolicyRevision.objects.get(policy__model=model).rules
    assert client.get(reverse("promotions:policy-revision-json", args=[model.name, 2])).status_code == 404


@pytest.mark.parametrize("page", ["gate-run", "gate-slices", "policy", "global-policy"])
def test_pages_keep_to_the_content_security_policy(client, failed_run, model, superuser, page):
    client.force_login(superuser)  # sees every form
    response = client.get(read_urls(failed_run, model)[page])
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert " style=" not in html and "<style" not in html and "<script" not in html


@pytest.mark.parametrize(
    ("page", "template"),
    [
        ("gate-run", "promotions/gate_run.html"),
        ("gate-slices", "promotions/gate_slices.html"),
        ("policy", "promotions/policy.html"),
    ],
)
def test_rendering_a_gate_or_policy_page_reads_nothing(
    client, failed_run, model, superuser, django_assert_num_queries, page, template
):
    """The gate report's checks, the slice page's chart and links, a policy's rules in words: all shaped by
    the view, so rendering the template again from the same context runs no query."""
    client.force_login(superuser)
    response = client.get(read_urls(failed_run, model)[page])
    assert response.status_code == 200
    context = Context(response.context[0].flatten())
    with django_assert_num_queries(0):
        engines["django"].get_template(template).template.render(context)


# --- Query counts that do not grow with rows -----------------------------------------------------------

GATE_RUN_PAGE_QUERIES = 8  # session, user, model, permissions, version, run, results, its request
SLICES_PAGE_QUERIES = 8  # the same
POLICY_PAGE_QUERIES = 8  # session, user, model, permissions, policies, revisions, metric and slice names
GLOBAL_POLICY_PAGE_QUERIES = 6  # session, user, policies, revisions, visible models' metric and slice names


def test_the_gate_run_pages_queries_do_not_grow_with_slices(
    client, django_assert_max_num_queries, model, version, contributor, viewer
):
    client.force_login(viewer)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    runs = {}

    def build(rows):
        baseline = version_register_for_tests(actor=contributor, model=model, slices=rows)
        version_move(baseline, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
        candidate = version_register_for_tests(actor=contributor, model=model, slices=rows)
        version_move(candidate, Stage.STAGING, actor=contributor)
        runs[rows] = gate_finished(candidate, contributor)
        return run_url(runs[rows])

    assert_queries_do_not_grow(
        django_assert_max_num_queries, client, bound=GATE_RUN_PAGE_QUERIES, build=build
    )
    assert_queries_do_not_grow(
        django_assert_max_num_queries,
        client,
        bound=SLICES_PAGE_QUERIES,
        build=lambda rows: run_url(runs[rows], "gate-slices"),
    )
    assert len(client.get(run_url(runs[50], "gate-slices")).context["view"].rows) == 50


def test_the_version_pages_queries_do_not_grow_with_gate_runs(
    client, django_assert_max_num_queries, model, version, contributor, viewer
):
    client.force_login(contributor)  # who may run the gate: the page also reads that permission

    def build(rows):
        while GateRun.objects.filter(version=version).count() < rows:
            gate_finished(version, contributor, "staging")
        return version_url(version)

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=VERSION_PAGE_QUERIES, build=build)
    assert len(client.get(version_url(version)).content.decode().split('class="badge gate-')) == 51


def test_the_policy_pages_queries_do_not_grow_with_revisions(
    client, django_assert_max_num_queries, model, superuser, policy_admin
):
    def grow(target_model, rows):
        scope = {"policy__model": target_model} if target_model else {"policy__model__isnull": True}
        while PolicyRevision.objects.filter(**scope).count() < rows:
            actor = policy_admin if target_model else superuser
            policy_revise(actor=actor, model=target_model, rules_data=RULES, reason="Again.")

    client.force_login(policy_admin)  # the edit form is drawn too

    def build(rows):
        grow(model, rows)
        return policy_url(model)

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=POLICY_PAGE_QUERIES, build=build)
    assert len(client.get(policy_url(model)).context["page"].revisions) == 50

    client.force_login(superuser)

    def build_global(rows):
        grow(None, rows)
        return reverse("promotions:global-policy")

    assert_queries_do_not_grow(
        django_assert_max_num_queries, client, bound=GLOBAL_POLICY_PAGE_QUERIES, build=build_global
    )


# --- The admin: read-only ---------------------------------------------------------------------------------


def test_the_admin_shows_policy_revisions_and_gate_runs_read_only(client, failed_run, superuser):
    client.force_login(superuser)
    revision = failed_run.policy_revision
    for name, obj in [("gaterun", failed_run), ("policyrevision", revision)]:
        listing = client.get(reverse(f"admin:promotions_{name}_changelist"))
        assert listing.status_code == 200
        assert f'href="{reverse(f"admin:promotions_{name}_add")}"' not in listing.content.decode()
        page = client.get(reverse(f"admin:promotions_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'name="_save"' not in html
        assert client.get(reverse(f"admin:promotions_{name}_add")).status_code == 403
        assert (
            client.post(
                reverse(f"admin:promotions_{name}_delete", args=[obj.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
    html = client.get(reverse("admin:promotions_gaterun_change", args=[failed_run.pk])).content.decode()
    assert html.count("slices") >= 1 and "2 worse of 4 compared" in html  # the results, inline
    assert f'href="{run_url(failed_run)}"' in html
    assert GateRun.objects.filter(pk=failed_run.pk, state=GateState.FAILED).exists()
