"""The reviewer's pages: the request page, the queue, and the promotion parts of the version, model and
home pages. Thin views over the services; these tests climb the permission ladder and pin query counts."""

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from tests.factories import model_create_for_tests, user_with_roles, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import PromotionRequest, RequestState, SignOff
from warehouse.promotions.policies.services import policy_revise
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


def _awaiting(contributor, model, *, target=Stage.STAGING, slices=3):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD, slices=slices)
    promotion = promotion_request_open(
        actor=contributor,
        version=version,
        target_stage=target,
        justification="Better recall on new merchants.",
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    return promotion


def _url(promotion):
    return reverse("promotions:request", args=[promotion.model.name, promotion.pk])


def test_it_sends_anonymous_readers_to_sign_in(client, contributor, model):
    promotion = _awaiting(contributor, model)
    response = client.get(_url(promotion))
    assert response.status_code == 302
    assert reverse("accounts:sign-in") in response["Location"]


def test_it_hides_requests_of_models_the_reader_cannot_see(client, contributor, outsider, model):
    promotion = _awaiting(contributor, model)
    client.force_login(outsider)
    assert client.get(_url(promotion)).status_code == 404


def test_it_shows_the_reviewer_the_gate_checklist_card_and_forms(client, contributor, reviewer, model):
    promotion = _awaiting(contributor, model)
    client.force_login(reviewer)
    response = client.get(_url(promotion))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Awaiting sign-off" in body
    assert "Reviewer&#x27;s checklist" in body or "Reviewer's checklist" in body
    for item in ("Tracked source run exists", "Slice regressions reviewed", "Known failures documented"):
        assert item in body
    assert "New merchants in their first week." in body
    assert 'value="approve"' in body and 'value="reject"' in body


def test_it_explains_four_eyes_to_the_requester_instead_of_forms(client, contributor, team, model):
    # A requester who is also a reviewer: the role is there, four eyes still says no.
    requester = user_with_roles("rex", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))
    version = version_register_for_tests(actor=contributor, model=model, card=CARD)
    promotion = promotion_request_open(
        actor=requester, version=version, target_stage=Stage.STAGING, justification="Ready."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    client.force_login(requester)
    body = client.get(_url(promotion)).content.decode()
    assert "someone else must sign it (four eyes)" in body
    assert 'value="approve"' not in body


def test_it_approves_from_the_page_and_the_version_moves(client, contributor, reviewer, model):
    promotion = _awaiting(contributor, model)
    client.force_login(reviewer)
    response = client.post(
        reverse("promotions:signoff-create", args=[model.name, promotion.pk]),
        {"decision": "approve", "comment": "Checked the slices."},
    )
    assert response.status_code == 302
    promotion.refresh_from_db()
    assert promotion.state == RequestState.APPROVED
    assert promotion.version.stage == Stage.STAGING


def test_it_refuses_self_approval_with_a_403_on_the_record(client, contributor, team, model):
    requester = user_with_roles("rex", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))
    version = version_register_for_tests(actor=contributor, model=model, card=CARD)
    promotion = promotion_request_open(
        actor=requester, version=version, target_stage=Stage.STAGING, justification="Go."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    client.force_login(requester)
    response = client.post(
        reverse("promotions:signoff-create", args=[model.name, promotion.pk]), {"decision": "approve"}
    )
    assert response.status_code == 403
    assert "four eyes" in response.content.decode()
    assert not SignOff.objects.exists()
    assert AuditEvent.objects.filter(action="permission.denied", actor=requester).exists()


def test_it_opens_a_request_from_the_version_page(client, contributor, model):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD)
    client.force_login(contributor)
    page = client.get(reverse("registry:version", args=[model.name, version.number])).content.decode()
    assert "Request promotion to Staging" in page
    response = client.post(
        reverse("promotions:request-create", args=[model.name, version.number]),
        {"target_stage": "staging", "justification": "Ready for shadow traffic."},
    )
    promotion = PromotionRequest.objects.get()
    assert response["Location"] == _url(promotion)


def test_it_writes_nothing_for_a_request_without_justification(client, contributor, model):
    version = version_register_for_tests(actor=contributor, model=model, card=CARD)
    client.force_login(contributor)
    client.post(
        reverse("promotions:request-create", args=[model.name, version.number]),
        {"target_stage": "staging", "justification": "  "},
    )
    assert not PromotionRequest.objects.exists()


def test_the_queue_lists_what_awaits_the_reviewer_oldest_first(
    client, contributor, reviewer, approver, model
):
    first = _awaiting(contributor, model)
    second = _awaiting(contributor, model)
    client.force_login(reviewer)
    body = client.get(reverse("promotions:queue")).content.decode()
    assert body.index(f"#{first.pk}<") < body.index(f"#{second.pk}<")
    client.force_login(approver)
    body = client.get(reverse("promotions:queue")).content.decode()
    assert f"#{first.pk}<" not in body  # a move to Staging is for reviewers under the default policy


def test_home_shows_the_queue_count(client, contributor, reviewer, model):
    _awaiting(contributor, model)
    client.force_login(reviewer)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="queue-count">1<' in body


def test_version_and_model_pages_link_moves_to_their_requests(client, contributor, reviewer, model):
    promotion = _awaiting(contributor, model)
    signoff_record(actor=reviewer, promotion=promotion, decision="approve")
    client.force_login(reviewer)
    for url in (
        reverse("registry:version", args=[model.name, promotion.version.number]),
        reverse("registry:model", args=[model.name]),
    ):
        body = client.get(url).content.decode()
        assert f'href="{_url(promotion)}"' in body, url


def test_the_request_page_runs_the_same_queries_whatever_the_slices_and_signoffs(
    client, contributor, superuser, django_assert_max_num_queries
):
    small_model = model_create_for_tests(actor=contributor, name="small-model")
    big_model = model_create_for_tests(actor=contributor, name="big-model")
    rules = {
        "draft_to_staging": {"signoffs": {"count": 3, "roles": ["reviewer"]}},
        "staging_to_production": {},
    }
    for m in (small_model, big_model):
        policy_revise(actor=superuser, model=m, rules_data=rules, reason="Three reviewers.")
    small = _awaiting(contributor, small_model, slices=2)
    big = _awaiting(contributor, big_model, slices=150)
    reviewers = [user_with_roles(f"extra-reviewer-{n}", Role.REVIEWER) for n in range(2)]
    for person in reviewers:
        assign_perm("registry.view_registeredmodel", person, big_model)
        signoff_record(actor=person, promotion=big, decision="approve")
    client.force_login(superuser)
    client.get(_url(small))  # warms the per-process caches (content types) both measured requests share
    with django_assert_max_num_queries(20) as small_queries:
        assert client.get(_url(small)).status_code == 200
    with django_assert_max_num_queries(20) as big_queries:
        assert client.get(_url(big)).status_code == 200
    assert len(big_queries.captured_queries) == len(small_queries.captured_queries), [
        q["sql"][:120] for q in big_queries.captured_queries
    ]


def test_the_queue_runs_the_same_queries_whatever_the_requests(
    client, contributor, reviewer, team, django_assert_max_num_queries
):
    model = model_create_for_tests(actor=contributor, name="queued-model", team=team)
    _awaiting(contributor, model)
    client.force_login(reviewer)
    client.get(reverse("promotions:queue"))  # warms the per-process caches (content types)
    with django_assert_max_num_queries(20) as one:
        client.get(reverse("promotions:queue"))
    for index in range(4):
        other = model_create_for_tests(actor=contributor, name=f"queued-{index}", team=team)
        _awaiting(contributor, other)
    with django_assert_max_num_queries(20) as five:
        body = client.get(reverse("promotions:queue")).content.decode()
    assert body.count("queued-") >= 4
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_queue_shows_a_page_and_says_when_more_await(client, contributor, reviewer, model, monkeypatch):
    monkeypatch.setattr("warehouse.promotions.views.review_queue", _queue_of(2))
    promotions = [_awaiting(contributor, model) for _ in range(3)]
    client.force_login(reviewer)
    body = client.get(reverse("promotions:queue")).content.decode()
    assert 'data-testid="awaiting-count">2+<' in body
    assert "The oldest 2 are shown" in body
    assert f"#{promotions[0].pk}<" in body and f"#{promotions[2].pk}<" not in body


def _queue_of(limit):
    from warehouse.promotions.requests.queue import review_queue

    return lambda *, user: review_queue(user=user, limit=limit)


def test_a_role_granted_on_one_model_puts_its_requests_in_the_queue(client, contributor, team, model):
    """No reviewer role org-wide: the sign-off permission on this one model is what makes them eligible."""
    promotion = _awaiting(contributor, model)
    elsewhere = model_create_for_tests(actor=contributor, name="elsewhere-model", team=team)
    other = _awaiting(contributor, elsewhere)
    person = user_with_roles("model-reviewer", Role.VIEWER)
    for each in (model, elsewhere):
        assign_perm("registry.view_registeredmodel", person, each)
    client.force_login(person)
    assert f"#{promotion.pk}<" not in client.get(reverse("promotions:queue")).content.decode()
    assign_perm("registry.signoff_staging", team, model)
    person.groups.add(team)
    body = client.get(reverse("promotions:queue")).content.decode()
    assert f"#{promotion.pk}<" in body
    assert f"#{other.pk}<" not in body


@pytest.mark.postgres
def test_a_page_of_the_queue_reads_requests_through_an_index(contributor, reviewer, model):
    from django.db import connection

    from warehouse.promotions.requests.queue import _eligible_to_sign
    from warehouse.promotions.requests.selectors import _request_queryset

    _awaiting(contributor, model)
    page = _request_queryset().filter(state=RequestState.AWAITING_SIGNOFF).filter(_eligible_to_sign(reviewer))
    sql, params = page.order_by("created_at", "pk")[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on promotions_promotionrequest" not in plan, plan


# --- The candidate against production ---------------------------------------------------------------------


def test_the_request_shows_the_candidate_against_production_metric_by_metric(
    client, contributor, reviewer, model, version, superuser
):
    from tests.factories import version_move

    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)  # v1: auc 0.91, log_loss 0.21
    rules = {
        "draft_to_staging": {"latency_p95_ms_max": 12, "cost_per_1k_max": 0.02},
        "staging_to_production": {},
    }
    policy_revise(actor=superuser, model=model, rules_data=rules, reason="Budgets.")
    candidate = version_register_for_tests(
        actor=contributor, model=model, card=CARD, metrics={"auc": 0.93, "log_loss": 0.25}
    )
    promotion = promotion_request_open(
        actor=contributor, version=candidate, target_stage=Stage.STAGING, justification="Better auc."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    client.force_login(reviewer)

    response = client.get(_url(promotion))

    against = response.context["page"].against_production
    assert against.production.pk == version.pk and against.as_the_gate_saw_it
    rows = {row.name: row for row in against.metrics}
    assert rows["auc"].better == "other" and rows["auc"].change == pytest.approx(0.02)
    assert rows["log_loss"].better == "production" and rows["log_loss"].change == pytest.approx(0.04)
    assert (against.latency_budget, against.cost_budget) == (12, 0.02)
    html = response.content.decode()
    section = html[html.index('id="against-production"') : html.index('id="checklist"')]
    assert "Against production v1" in section and "▲ better" in section and "▼ worse" in section
    assert "p95 latency at most <strong>12 ms</strong>" in section and "Latency p95" in section


def test_with_nothing_in_production_the_request_says_so(client, contributor, reviewer, model):
    promotion = _awaiting(contributor, model)
    client.force_login(reviewer)

    html = client.get(_url(promotion)).content.decode()

    assert "Nothing is in production: there is no version to compare" in html
