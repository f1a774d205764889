"""Comparing two versions, base → head: the order, the pickers' defaults, the card word by word (escaped), the
metrics, slices, latency and cost side by side, and a number of queries that does not grow."""

import re

import pytest
from django.urls import reverse

from tests.factories import evidence_payload, version_move, version_register_for_tests
from warehouse.cards.comparison import version_comparison
from warehouse.cards.wording import DELETED, INSERTED, SAME, Piece, text_diff
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

BASE_CARD = {
    "task": "Scores card payments for fraud.",
    "intended_users": "Fraud analysts in the EU.",
    "decision_influenced": "Whether a payment is declined.",
    "known_failures": "- New merchants.",
}
HEAD_CARD = {
    "task": "Scores card and wallet payments for fraud.",
    "intended_users": "Fraud analysts in the EU and the UK.",
    "decision_influenced": "Whether a payment is declined.",
    "known_failures": "- New merchants.\n- <script>alert('x')</script> & gift cards.",
}


def _profile(**changes):
    return {**evidence_payload()["profile"], **changes}


@pytest.fixture
def pair(contributor, model):
    """v2 (in production) and v3 (a draft): the card, metrics, slices and profile all moved."""
    base = version_register_for_tests(
        actor=contributor,
        model=model,
        card=BASE_CARD,
        metrics={"auc": 0.91, "log_loss": 0.21, "recall": 0.7},
        slices=3,
        profile=_profile(latency_p95_ms=9.5, cost_per_1k_predictions="0.0125"),
    )
    version_move(base, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    head_payload = evidence_payload(metrics={"auc": 0.93, "log_loss": 0.25, "precision": 0.8}, slices=4)
    head_payload["evaluation"]["slices"][0]["value"] = 0.75  # region=r0 worse than v2's 0.8
    head = version_register_for_tests(
        actor=contributor,
        model=model,
        card=HEAD_CARD,
        metrics={"auc": 0.93, "log_loss": 0.25, "precision": 0.8},
        evaluation=head_payload["evaluation"],
        profile=_profile(latency_p95_ms=11.0, cost_per_1k_predictions="0.0100"),
    )
    return base, head


def _compare(model, **query):
    url = reverse("cards:compare", args=[model.name])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


# --- Words ----------------------------------------------------------------------------------------------


def test_words_are_marked_not_lines():
    diff = text_diff("Above 0.85, declined.\nSame.\n", "Above 0.86, declined.\nSame.\nNew line.\n")

    assert diff.base == [Piece(SAME, "Above "), Piece(DELETED, "0.85"), Piece(SAME, ", declined.\nSame.\n")]
    assert diff.head == [
        Piece(SAME, "Above "),
        Piece(INSERTED, "0.86"),
        Piece(SAME, ", declined.\nSame.\n"),
        Piece(INSERTED, "New line.\n"),
    ]
    assert (diff.added, diff.removed, diff.changed) == (4, 1, True)


def test_an_unchanged_text_has_no_marks():
    diff = text_diff("Same words.", "Same words.")
    assert not diff.changed and diff.base == diff.head == [Piece(SAME, "Same words.")]


def test_a_huge_change_is_marked_whole_not_compared_word_by_word():
    old, new = " ".join(["a"] * 4000), " ".join(["b"] * 4000)
    diff = text_diff(old, new)
    assert diff.base == [Piece(DELETED, old)] and diff.head == [Piece(INSERTED, new)]


# --- The page -------------------------------------------------------------------------------------------


def test_it_climbs_the_ladder(client, outsider, viewer, model, pair):
    url = _compare(model, base=2, head=3)
    assert "/accounts/sign-in/" in client.get(url)["Location"]
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(viewer)
    assert client.get(url).status_code == 200


def test_it_defaults_to_the_version_before_the_head(client, viewer, model, pair):
    client.force_login(viewer)

    picked = client.get(_compare(model, head=3)).context["comparison"]
    assert (picked.base.version.number, picked.head.version.number) == (2, 3)
    # No head: the production version, against the one before it.
    alone = client.get(_compare(model)).context["comparison"]
    assert (alone.base.version.number, alone.head.version.number) == (1, 2)


def test_the_base_is_always_the_older(client, viewer, model, pair):
    client.force_login(viewer)

    response = client.get(_compare(model, base=3, head=2))

    assert response.status_code == 302 and response["Location"] == _compare(model, base=2, head=3)


def test_the_first_version_has_nothing_before_it(client, viewer, model, pair):
    client.force_login(viewer)
    response = client.get(_compare(model, head=1))
    assert response.status_code == 200 and "nothing before it to compare with" in response.content.decode()


@pytest.mark.parametrize("query", [{"base": 2, "head": 99}, {"head": "x"}, {"base": "-1"}])
def test_a_version_that_does_not_exist_is_a_404(client, viewer, model, pair, query):
    client.force_login(viewer)
    assert client.get(_compare(model, **query)).status_code == 404


def test_the_pickers_offer_every_version_with_the_pair_selected(client, viewer, model, pair):
    client.force_login(viewer)
    html = client.get(_compare(model, base=2, head=3)).content.decode()

    base_picker = html[html.index('<select id="base"') : html.index("</select>")]
    assert re.findall(r'value="(\d+)"', base_picker) == ["3", "2", "1"]
    assert '<option value="2" selected>v2 · Production</option>' in base_picker
    assert '<option value="3" selected>v3 · Draft</option>' in html


def test_sections_read_base_to_head_with_word_marks(client, viewer, model, pair):
    client.force_login(viewer)
    html = client.get(_compare(model, base=2, head=3)).content.decode()

    task = html[html.index('id="diff-task"') : html.index('id="diff-intended_users"')]
    assert task.index("v2") < task.index("v3")  # the base on the left
    assert re.search(r"Scores card ?<ins> ?and wallet ?</ins> ?payments for fraud\.", task)
    assert "<del>" not in task  # nothing of v2's task was dropped
    users = html[html.index('id="diff-intended_users"') : html.index('id="diff-decision_influenced"')]
    assert "<ins> and the UK</ins>" in users and "<h3" in users and "Intended users" in users
    decision = html[html.index('id="diff-decision_influenced"') : html.index('id="diff-known_failures"')]
    assert "unchanged" in decision and "<ins>" not in decision
    # Reading order: the new sections right after the task.
    assert html.index('id="diff-task"') < html.index('id="diff-intended_users"')
    assert html.index('id="diff-decision_influenced"') < html.index('id="diff-known_failures"')


def test_section_text_is_escaped_not_rendered(client, viewer, model, pair):
    client.force_login(viewer)
    html = client.get(_compare(model, base=2, head=3)).content.decode()

    assert "<script>alert" not in html
    assert "<ins>\n- &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; gift cards.</ins>" in html


def test_metrics_slices_and_profile_sit_side_by_side_with_deltas(viewer, model, pair):
    comparison = version_comparison(model=model, base=2, head=3)

    metrics = {row.name: row for row in comparison.metrics}
    assert list(metrics) == ["auc", "log_loss", "precision", "recall"]
    assert (metrics["auc"].base, metrics["auc"].head, metrics["auc"].is_better) == (0.91, 0.93, True)
    assert metrics["log_loss"].is_worse  # lower is better, and it rose
    assert metrics["precision"].presence == "new" and metrics["recall"].presence == "dropped"
    slices = {row.name: row for row in comparison.slices}
    assert slices["region=r0"].is_worse and slices["region=r0"].delta == pytest.approx(-0.05)
    assert slices["region=r3"].presence == "new" and slices["region=r3"].head_samples == 103
    assert comparison.slices_worse == [slices["region=r0"]]
    profile = {row.name: row for row in comparison.profile}
    assert profile["Latency p95"].delta == pytest.approx(1.5) and profile["Latency p95"].is_worse
    cost = profile["Cost per 1,000 predictions"]
    assert cost.is_better and cost.delta == pytest.approx(-0.0025) and cost.unit == "USD"


def test_the_page_shows_the_evidence_tables(client, viewer, model, pair):
    client.force_login(viewer)
    html = client.get(_compare(model, base=2, head=3)).content.decode()

    for table in ("compare-metrics", "compare-slices", "compare-profile"):
        section = html[html.index(f'data-testid="{table}"') :]
        section = section[: section.index("</table>")]
        assert section.index(">v2<") < section.index(">v3<")
    slices = html[html.index('data-testid="compare-slices"') :]
    assert '<tr class="regression">' in slices and "region=r0" in slices and ">new<" in slices
    assert "+1.5" in html  # p95 latency, ms


def test_costs_in_other_currencies_are_shown_not_compared(contributor, model, pair):
    version_register_for_tests(
        actor=contributor, model=model, profile=_profile(cost_per_1k_predictions="0.0090", currency="EUR")
    )
    comparison = version_comparison(model=model, base=3, head=4)
    cost = next(row for row in comparison.profile if row.name.startswith("Cost"))
    assert cost.is_better is None and cost.unit == "EUR / USD"
    assert "different currencies" in comparison.profile_note


def test_the_compare_page_runs_the_same_queries_whatever_the_rows(
    client, viewer, contributor, model, django_assert_max_num_queries
):
    client.force_login(viewer)
    small = [version_register_for_tests(actor=contributor, model=model, card=BASE_CARD, slices=2)]
    small.append(version_register_for_tests(actor=contributor, model=model, card=HEAD_CARD, slices=2))
    url = _compare(model, base=small[0].number, head=small[1].number)
    client.get(url)  # warms per-process caches (content types)
    with django_assert_max_num_queries(COMPARE_QUERIES) as few:
        client.get(url)
    for _ in range(20):
        version_register_for_tests(actor=contributor, model=model, card=BASE_CARD, slices=2)
    big = [version_register_for_tests(actor=contributor, model=model, card=BASE_CARD, slices=150)]
    big.append(version_register_for_tests(actor=contributor, model=model, card=HEAD_CARD, slices=150))
    with django_assert_max_num_queries(COMPARE_QUERIES) as many:
        response = client.get(_compare(model, base=big[0].number, head=big[1].number))
    assert len(response.context["comparison"].slices) == 150
    assert len(many.captured_queries) == len(few.captured_queries)


# Pinned at what the page runs: the session and the user, the model and its permissions, the versions for
# the pickers, the pair with evaluation and profile, their cards, their metrics, their slices.
COMPARE_QUERIES = 9
