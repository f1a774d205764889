"""The card pages: reading, editing with a preview, history, diffs between revisions and versions, and
prefilling a draft. The permission ladder, completeness, and query counts that do not grow."""

import pytest
from django.urls import reverse

from tests.factories import version_move, version_register_for_tests
from warehouse.audit.models import AuditEvent
from warehouse.cards.models import CardRevision
from warehouse.cards.services import card_revise
from warehouse.promotions.policies.services import policy_revise
from warehouse.registry.models import Stage

pytestmark = pytest.mark.django_db

CARD = {
    "task": "Scores card payments for fraud.",
    "known_failures": "- New merchants in their first week.",
    "owners_contacts": "fraud-ml@example.com",
}


def _url(name, version, *args, **query):
    url = reverse(name, args=[version.model.name, version.number, *args])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


@pytest.fixture
def carded(contributor, model):
    return version_register_for_tests(actor=contributor, model=model, card=CARD, slices=8)


def test_it_sends_anonymous_readers_to_sign_in(client, carded):
    response = client.get(_url("cards:card", carded))
    assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"]


def test_it_hides_cards_of_models_the_reader_cannot_see(client, outsider, carded):
    client.force_login(outsider)
    assert client.get(_url("cards:card", carded)).status_code == 404


def test_it_shows_written_and_generated_sections_with_known_failures_first(client, viewer, carded):
    client.force_login(viewer)
    response = client.get(_url("cards:card", carded))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("Known failures") < body.index("Scores card payments for fraud.")
    for generated in ("Overall metrics", "Slices, weakest cohorts first", "Source run and artifacts"):
        assert generated in body
    assert "sha256:" + "ab" * 32 in body
    assert "Complete:" in body
    # A viewer reads: the editor is not theirs, and the button says why.
    assert reverse("cards:card-edit", args=[carded.model.name, carded.number]) not in body
    assert 'disabled aria-describedby="edit-why">Edit the card</button>' in body
    assert "Needs the contributor role on fraud-scorer." in body


def test_it_lists_slices_weakest_first(client, viewer, carded):
    client.force_login(viewer)
    rows = client.get(_url("cards:card", carded)).context["page"].slice_rows
    values = [row.value for row, _ in rows]
    assert values == sorted(values)  # auc: higher is better, so the weakest cohort has the lowest value
    assert [weak for _, weak in rows][:3] == [True, True, True]


def test_completeness_follows_the_policy_in_force(client, viewer, superuser, contributor, model):
    version = version_register_for_tests(actor=contributor, model=model, card={"task": "Scores payments."})
    policy_revise(
        actor=superuser,
        model=model,
        rules_data={
            "draft_to_staging": {"required_card_sections": ["task", "data_summary"]},
            "staging_to_production": {},
        },
        reason="Data summary before Staging.",
    )
    client.force_login(viewer)
    page = client.get(_url("cards:card", version)).context["page"]
    assert [key for key, _ in page.completeness.missing] == ["data_summary"]
    assert "promotion policy (fraud-scorer, r1)" in page.completeness.source


def test_editing_climbs_the_ladder(client, viewer, contributor, carded):
    client.force_login(viewer)
    assert client.get(_url("cards:card-edit", carded)).status_code == 403
    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).exists()
    client.force_login(contributor)
    assert client.get(_url("cards:card-edit", carded)).status_code == 200


def test_a_save_is_a_new_revision_rendered_and_sanitised_once(client, contributor, carded):
    client.force_login(contributor)
    data = {
        **CARD,
        "known_failures": "- New merchants.\n- <script>alert(1)</script>Travel.",
        "summary": "Travel",
    }
    response = client.post(_url("cards:card-edit", carded), data)
    assert response.status_code == 302
    revision = carded.card.revisions.order_by("-number").first()
    assert revision.number == 2 and revision.summary == "Travel"
    assert "<script" not in revision.sections_html["known_failures"]
    assert "<script" not in client.get(_url("cards:card", carded)).content.decode().split("<main")[1]


def test_intended_users_and_the_decision_are_edited_and_read_right_after_the_task(
    client, contributor, viewer, carded
):
    client.force_login(contributor)
    editor = client.get(_url("cards:card-edit", carded)).content.decode()
    assert editor.index('id="id_task"') < editor.index('id="id_intended_users"')
    assert editor.index('id="id_intended_users"') < editor.index('id="id_decision_influenced"')
    assert editor.index('id="id_decision_influenced"') < editor.index('id="id_out_of_scope"')
    response = client.post(
        _url("cards:card-edit", carded),
        {
            **CARD,
            "intended_users": "Fraud analysts <em>and</em> the gateway.",
            "decision_influenced": "Decline, step up or approve.",
        },
    )
    assert response.status_code == 302
    assert carded.card.revisions.get(number=2).sections["intended_users"].startswith("Fraud analysts")

    client.force_login(viewer)
    page = client.get(_url("cards:card", carded)).content.decode()
    headings = [page.index(f'id="{key}-title"') for key in ("task", "intended_users", "decision_influenced")]
    assert headings == sorted(headings)
    assert ">Intended users</h2>" in page and ">Decision influenced</h2>" in page
    assert "Fraud analysts <em>and</em> the gateway." in page  # Markdown allows it; nh3 keeps <em>
    assert "5 of 10 sections" in page


def test_the_preview_uses_the_same_sanitiser_and_writes_nothing(client, contributor, carded):
    client.force_login(contributor)
    before = CardRevision.objects.count()
    response = client.post(
        _url("cards:card-preview", carded), {"task": "**Bold** <img src=x onerror=alert(1)>"}
    )
    html = response.json()["html"]["task"]
    assert "<strong>Bold</strong>" in html and "onerror" not in html
    assert CardRevision.objects.count() == before


def test_preview_without_javascript_rerenders_the_editor(client, contributor, carded):
    client.force_login(contributor)
    response = client.post(_url("cards:card-edit", carded), {**CARD, "task": "*Now*", "preview": "1"})
    assert response.status_code == 200 and "<em>Now</em>" in response.content.decode()
    assert carded.card.revisions.count() == 1


def test_a_save_that_changes_nothing_is_refused(client, contributor, carded):
    client.force_login(contributor)
    response = client.post(_url("cards:card-edit", carded), {**CARD, "summary": "no-op"})
    assert response.status_code == 400 and "Nothing changed" in response.content.decode()
    assert carded.card.revisions.count() == 1


def test_history_and_a_diff_of_two_revisions(client, contributor, viewer, carded):
    card_revise(
        actor=contributor, version=carded, sections={**CARD, "task": "Scores card and wallet payments."}
    )
    client.force_login(viewer)
    history = client.get(_url("cards:card-history", carded)).content.decode()
    assert "r2" in history and "r1" in history
    diff = client.get(_url("cards:card-diff", carded, **{"from": 1, "to": 2}))
    page = diff.content.decode()
    assert diff.status_code == 200
    # Word by word: in r1 only " for fraud" is struck out, in r2 only "and wallet " is marked added.
    assert "<ins>and wallet </ins>" in page and "<del> for fraud</del>" in page
    assert page.index("r1 by") < page.index("r2 by")
    assert client.get(_url("cards:card-diff", carded, **{"from": 1, "to": 9})).status_code == 404


def test_the_old_version_comparison_address_redirects_base_to_head(client, viewer, model, carded):
    client.force_login(viewer)
    # From the card of v2, "with v1": the older is the base, whichever card asked.
    response = client.get(_url("cards:card-compare", carded, **{"with": 1}))
    assert response.status_code == 302
    assert response["Location"] == reverse("cards:compare", args=[model.name]) + "?base=1&head=2"
    response = client.get(_url("cards:card-compare", carded))
    assert response["Location"] == reverse("cards:compare", args=[model.name]) + "?head=2"


def test_a_draft_card_is_prefilled_from_the_previous_version(client, contributor, model, carded):
    draft = version_register_for_tests(actor=contributor, model=model, card={})
    client.force_login(contributor)
    assert "Start from v" in client.get(_url("cards:card", draft)).content.decode()
    client.post(_url("cards:card-prefill", draft))
    draft.refresh_from_db()
    assert draft.card.current.sections == {key: text.strip() for key, text in CARD.items()}
    assert draft.card.current.summary == f"Prefilled from v{carded.number}'s card"


def test_only_a_draft_card_is_prefilled(client, contributor, model, carded):
    staged = version_register_for_tests(actor=contributor, model=model, card={"task": "Mine."})
    version_move(staged, Stage.STAGING, actor=contributor)
    client.force_login(contributor)
    client.post(_url("cards:card-prefill", staged))
    assert staged.card.revisions.count() == 1
    assert AuditEvent.objects.get(action="card.prefill_refused").data["code"] == "not_draft"


def test_the_card_page_runs_the_same_queries_whatever_the_slices_and_history(
    client, viewer, contributor, model, django_assert_max_num_queries
):
    small = version_register_for_tests(actor=contributor, model=model, card=CARD, slices=2)
    big = version_register_for_tests(actor=contributor, model=model, card=CARD, slices=120)
    # Neither is a draft (a draft's page also looks for an earlier card to start from).
    version_move(small, Stage.STAGING, actor=contributor)
    version_move(big, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    for n in range(5):
        card_revise(actor=contributor, version=big, sections={**CARD, "task": f"Revision {n}."})
    client.force_login(viewer)
    client.get(_url("cards:card", small))  # warms per-process caches (content types)
    with django_assert_max_num_queries(25) as few:
        client.get(_url("cards:card", small))
    with django_assert_max_num_queries(25) as many:
        client.get(_url("cards:card", big))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_lone_surrogate_is_refused_not_a_crash(contributor, carded):
    from warehouse.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        card_revise(actor=contributor, version=carded, sections={"task": "Scores \ud800 payments."})
    assert "sections.task" in raised.value.errors
    assert carded.card.revisions.count() == 1


def test_table_alignment_survives_sanitising(contributor, carded):
    revision = card_revise(
        actor=contributor,
        version=carded,
        sections={**CARD, "evaluation_notes": "| a | b |\n|:--|--:|\n| 1 | 2 |"},
    )
    html = revision.sections_html["evaluation_notes"]
    assert 'align="left"' in html and 'align="right"' in html and "style" not in html


README = """---
model-index:
- name: fraud-scorer
---
# fraud-scorer

## Intended uses
Scores card payments.

## Limitations
Struggles with brand-new merchants.
"""


def test_a_readme_is_imported_into_a_draft_from_the_page(client, contributor, model):
    draft = version_register_for_tests(actor=contributor, model=model, card={})
    client.force_login(contributor)
    assert "Import a README.md" in client.get(_url("cards:card", draft)).content.decode()
    client.post(_url("cards:card-import", draft), {"readme": README})
    draft.refresh_from_db()
    assert draft.card.current.sections["known_failures"] == "Struggles with brand-new merchants."
    assert draft.card.current.summary == "Imported from README.md"


def test_an_uploaded_readme_with_bad_front_matter_names_the_line_and_writes_nothing(
    client, contributor, model
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    draft = version_register_for_tests(actor=contributor, model=model, card={"task": "Mine."})
    client.force_login(contributor)
    bad = SimpleUploadedFile("README.md", b"---\nmodel-index: [unclosed\n---\n## Uses\nx\n", "text/markdown")
    response = client.post(_url("cards:card-import", draft), {"readme_file": bad}, follow=True)
    assert "line" in response.content.decode().lower() and "Nothing was imported" in response.content.decode()
    assert draft.card.revisions.count() == 1


def test_the_card_page_offers_both_exports(client, viewer, carded):
    client.force_login(viewer)
    body = client.get(_url("cards:card", carded)).content.decode()
    huggingface = reverse("api:card-export-huggingface", args=[carded.model.name, carded.number])
    assert f'href="{huggingface}"' in body
    assert client.get(huggingface).status_code == 200  # the page's session reads the API's export


def test_the_history_page_runs_the_same_queries_whatever_the_revisions(
    client, viewer, contributor, carded, django_assert_max_num_queries
):
    client.force_login(viewer)
    url = _url("cards:card-history", carded)
    client.get(url)
    with django_assert_max_num_queries(15) as few:
        client.get(url)
    for n in range(6):
        card_revise(actor=contributor, version=carded, sections={**CARD, "task": f"Revision {n}."})
    with django_assert_max_num_queries(15) as many:
        body = client.get(url).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries) and "r7" in body
