"""The card API: read, revise, export; every answer held to the OpenAPI document; queries pinned."""

import json

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from tests.api.support import API, bearer, error_fields, get, locked_out, own_statuses, written
from tests.factories import user_with_roles, version_move, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.cards.interchange import card_import_huggingface
from warehouse.cards.models import CardRevision
from warehouse.cards.sections import Section
from warehouse.cards.services import card_revise
from warehouse.promotions.policies.selectors import policy_in_force_read
from warehouse.registry.models import Stage

CARD = "/models/{name}/versions/{number}/card"
HF = "/models/{name}/versions/{number}/card/export/huggingface"
MCT = "/models/{name}/versions/{number}/card/export/toolkit"

# Each includes the token lookup. Measured: read 6 (one of them the policy in force, for completeness) and
# export 8 on SQLite and PostgreSQL alike; revise 15 on SQLite, 16 on PostgreSQL (which locks the head of the
# audit chain with a statement of its own).
CARD_READ_BUDGET = 6
CARD_REVISE_BUDGET = 16
EXPORT_BUDGET = 8


def put_json(client, path: str, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.put(f"{API}{path}", data=data, content_type="application/json", **extra)


def card_path(number: int = 2, name: str = "fraud-scorer", suffix: str = "") -> str:
    return f"/models/{name}/versions/{number}/card{suffix}"


@pytest.fixture(autouse=True)
def global_policy(db):
    # Written by its first reader, once per installation: written here, so no test counts that write.
    return policy_in_force_read(model=None)


@pytest.fixture
def carded(model, contributor):
    return version_register_for_tests(
        actor=contributor,
        model=model,
        card={
            "task": "Scores card payments for fraud.",
            "known_failures": "New merchants. [bad](javascript:alert(1)) <script>alert(1)</script>",
        },
    )


@pytest.fixture
def headers(client, viewer):
    headers = bearer(viewer)
    # The first call of a token records its use (one UPDATE a minute); measure the calls after it.
    get(client, "/models", **headers)
    return headers


@pytest.fixture
def writer(client, contributor):
    headers = bearer(contributor)
    get(client, "/models", **headers)
    return headers


# --- Reading ----------------------------------------------------------------------------------------------


def test_it_reads_the_card_with_sanitised_html(client, contract, carded, headers):
    body = contract.check(get(client, card_path(), **headers), CARD, "get")

    assert body["id"] == "fraud-scorer/v2" and body["stage"] == "draft"
    assert (body["revision"], body["author"], body["summary"]) == (1, "carol", "First card, at registration")
    assert list(body["sections"]) == ["task", "known_failures"]
    html = body["sections_html"]["known_failures"]
    assert "<script" not in html and "javascript:" not in html
    assert body["sections_html"]["task"] == "<p>Scores card payments for fraud.</p>"
    assert body["completeness"] == {
        "filled": ["task", "known_failures"],
        "empty": [key for key in Section.values if key not in ("task", "known_failures")],
        # A draft's next move is to Staging: the global default policy asks only for the task there.
        "required": ["task"],
        "missing": [],
        "required_by": "the promotion policy (the global default, r1) for Draft → Staging",
    }
    assert body["url"].endswith("/models/fraud-scorer/versions/2/card/")
    assert body["exports"]["huggingface"].endswith(f"{API}{card_path(suffix='/export/huggingface')}")
    assert body["api_url"].endswith(f"{API}{card_path()}")


def test_a_card_never_written_reads_empty(client, contract, model, headers):
    body = contract.check(get(client, card_path(1), **headers), CARD, "get")

    assert (body["revision"], body["author"], body["created_at"], body["summary"]) == (None, None, None, None)
    assert body["sections"] == body["sections_html"] == {}
    assert body["completeness"]["empty"] == list(Section.values)
    assert body["completeness"]["missing"] == ["task"]


@pytest.mark.parametrize("suffix", ["", "/export/huggingface", "/export/toolkit"])
def test_reads_climb_the_ladder(client, contract, carded, viewer, outsider, suffix):
    path = card_path(suffix=suffix)
    documented = {"": CARD, "/export/huggingface": HF, "/export/toolkit": MCT}[suffix]

    assert contract.check(get(client, path), documented, "get")["error"]["code"] == "unauthenticated"
    hidden = get(client, path, **bearer(outsider))
    assert contract.check(hidden, documented, "get")["error"]["code"] == "not_found"
    assert get(client, path, **bearer(viewer)).status_code == 200
    for missing in (card_path(99, suffix=suffix), card_path(name="no-such-model", suffix=suffix)):
        assert contract.check(get(client, missing, **bearer(viewer)), documented, "get")["error"] == {
            "code": "not_found",
            "message": "Not found, or you may not see it.",
        }


# --- Revising ---------------------------------------------------------------------------------------------


def test_a_contributor_revises_the_card(client, contract, carded, writer):
    before = written()
    sections = {"task": "Scores payments.", "owners_contacts": "payments-ml@example.com"}

    response = put_json(client, card_path(), {"sections": sections, "summary": "Owners added."}, **writer)

    body = contract.check(response, CARD, "put")
    assert response.status_code == 200
    assert (body["revision"], body["author"], body["summary"]) == (2, "carol", "Owners added.")
    assert body["sections"] == sections
    assert body["sections_html"]["owners_contacts"] == "<p>payments-ml@example.com</p>"
    assert "known_failures" in body["completeness"]["empty"]
    after = written()
    assert (after["CardRevision"] - before["CardRevision"], after["AuditEvent"] - before["AuditEvent"]) == (
        1,
        1,
    )
    assert AuditEvent.objects.order_by("-sequence").first().action == "card.revised"
    # What was saved is what is read.
    assert get(client, card_path(), **writer).json() == body


def test_a_card_may_be_sent_as_one_markdown_document(client, contract, carded, writer):
    document = "Scores payments.\n\n## Limitations\nNew merchants."

    response = put_json(client, card_path(), {"sections": document}, **writer)

    body = contract.check(response, CARD, "put")
    assert body["sections"] == {"task": "Scores payments.", "known_failures": "New merchants."}
    assert body["summary"] == ""


def test_intended_users_and_the_decision_are_sections_like_any_other(client, contract, carded, writer):
    sections = {
        "task": "Scores payments.",
        "intended_users": "Fraud analysts; the payment gateway.",
        "decision_influenced": "Approve, **step up** or decline.",
    }

    response = put_json(client, card_path(), {"sections": sections}, **writer)

    body = contract.check(response, CARD, "put")
    assert body["sections"] == sections
    html = body["sections_html"]["decision_influenced"]
    assert html == "<p>Approve, <strong>step up</strong> or decline.</p>"
    assert {"intended_users", "decision_influenced"} <= set(body["completeness"]["filled"])
    document = "Scores payments.\n\n## Intended users\nAnalysts.\n\n## Decision influenced\nDeclines."
    body = contract.check(put_json(client, card_path(), {"sections": document}, **writer), CARD, "put")
    assert body["sections"] == {
        "task": "Scores payments.",
        "intended_users": "Analysts.",
        "decision_influenced": "Declines.",
    }
    # The OpenAPI document lists them wherever a section is named.
    schema = client.get(f"{API}/openapi.json").json()["components"]["schemas"]
    names = json.dumps(schema)
    assert names.count('"decision_influenced"') >= 3 and names.count('"intended_users"') >= 3


def test_a_save_that_changes_nothing_is_refused(client, contract, carded, writer):
    current = CardRevision.objects.get(card__version=carded).sections

    response = put_json(client, card_path(), {"sections": current, "summary": "Again."}, **writer)

    assert response.status_code == 400
    contract.check(response, CARD, "put")
    assert "sections" in error_fields(response)
    assert CardRevision.objects.filter(card__version=carded).count() == 1


def test_a_card_past_draft_may_still_be_revised(client, carded, contributor, writer):
    version_move(carded, Stage.STAGING, actor=contributor)

    response = put_json(client, card_path(), {"sections": {"task": "Now in staging."}}, **writer)

    assert response.status_code == 200, response.content


BAD_BODIES = {
    "not-json": (b"{", "body"),
    "not-an-object": ([], "body"),
    "no-sections": ({"summary": "x"}, "sections"),
    "unknown-field": ({"sections": {}, "colour": "blue"}, "colour"),
    "unknown-section": ({"sections": {"summry": "x"}}, "sections.summry"),
    "section-not-text": ({"sections": {"task": 42}}, "sections.task"),
    "sections-not-an-object": ({"sections": 42}, "sections"),
    "summary-not-text": ({"sections": {"task": "x"}, "summary": 7}, "summary"),
    "summary-too-long": ({"sections": {"task": "x"}, "summary": "x" * 301}, "summary"),
}


@pytest.mark.parametrize(("body", "field"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_input_is_400_naming_the_field(client, contract, carded, writer, body, field):
    before = written()

    response = put_json(client, card_path(), body, **writer)

    assert response.status_code == 400, response.content
    contract.check(response, CARD, "put")
    assert field in error_fields(response), error_fields(response)
    assert written() == before


def test_revising_climbs_the_ladder(client, contract, carded, viewer, reviewer, outsider, team):
    body = {"sections": {"task": "Rewritten."}}

    assert contract.check(put_json(client, card_path(), body), CARD, "put")["error"]["code"] == (
        "unauthenticated"
    )
    hidden = put_json(client, card_path(), body, **bearer(outsider))
    assert contract.check(hidden, CARD, "put")["error"]["code"] == "not_found"
    for person in (viewer, reviewer):
        refused = put_json(client, card_path(), body, **bearer(person))
        assert contract.check(refused, CARD, "put")["error"]["code"] == "permission_denied"
        event = AuditEvent.objects.order_by("-sequence").first()
        assert (event.action, event.actor_label) == ("permission.denied", person.username)
        assert event.data["permission"] == "registry.edit_card"
    assert CardRevision.objects.filter(card__version=carded).count() == 1

    # The card edit permission granted on this one model is enough.
    editor = user_with_roles("eddie", Role.VIEWER, teams=(team,))
    assign_perm(Permission.objects.get(codename="edit_card"), editor, carded.model)
    assert put_json(client, card_path(), body, **bearer(editor)).status_code == 200


def test_a_session_caller_needs_the_csrf_token(carded, contributor):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(contributor)

    response = put_json(browser, card_path(), {"sections": {"task": "x"}})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


def test_other_methods_are_405(client, contract, carded, writer):
    for method, path in (
        ("post", card_path()),
        ("delete", card_path()),
        ("put", card_path(suffix="/export/toolkit")),
    ):
        response = getattr(client, method)(f"{API}{path}", **writer)
        assert response.status_code == 405, (method, path)
        contract.check_component(response, "MethodNotAllowed")


# --- Exports ----------------------------------------------------------------------------------------------


def test_the_readme_export_is_a_markdown_attachment(client, contract, carded, headers):
    response = get(client, card_path(suffix="/export/huggingface"), **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="fraud-scorer-v2-README.md"'
    readme = response.content.decode()
    front = yaml.safe_load(readme[4:].partition("\n---\n")[0])
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in metrics} == {"auc": 0.91, "log_loss": 0.21}
    assert len(front["warehouse"]["slices"]) == 3
    assert card_import_huggingface(readme) == CardRevision.objects.get(card__version=carded).sections
    _, documented = contract.response_pointer(HF, "get", 200)
    assert "text/markdown" in documented["content"]


def test_the_toolkit_export_is_json(client, contract, carded, headers):
    response = get(client, card_path(suffix="/export/toolkit"), **headers)

    body = contract.check(response, MCT, "get")
    assert response["Content-Disposition"] == 'attachment; filename="fraud-scorer-v2-model-card.json"'
    assert body["schema_version"] == "0.0.2"
    sliced = [m for m in body["quantitative_analysis"]["performance_metrics"] if m["slice"]]
    assert len(sliced) == 3


# --- Every documented answer, produced --------------------------------------------------------------------


def test_every_documented_answer_of_the_card_endpoints_is_produced(
    client, contract, carded, viewer, contributor, outsider
):
    seen: set[tuple[str, str, int]] = set()
    reader, editor, stranger = bearer(viewer), bearer(contributor), bearer(outsider)
    locked = locked_out(client, contributor)
    good = {"sections": {"task": "x"}}
    for documented, suffix in ((CARD, ""), (HF, "/export/huggingface"), (MCT, "/export/toolkit")):
        for headers in (reader, {}, stranger, locked):
            response = get(client, card_path(suffix=suffix), **headers)
            if documented != HF or response.status_code != 200:
                contract.check(response, documented, "get")
            seen.add((documented, "get", response.status_code))
    # Sent with a key, which another body may not reuse (tests/api/test_idempotency.py covers every write).
    keyed = {**editor, "HTTP_IDEMPOTENCY_KEY": "card-1"}
    for body, headers in (
        (good, keyed),
        ({"sections": {"task": "y"}}, keyed),
        ({"sections": 1}, editor),
        (good, {}),
        (good, reader),
        (good, stranger),
        (good, locked),
    ):
        response = put_json(client, card_path(), body, **headers)
        contract.check(response, CARD, "put")
        seen.add((CARD, "put", response.status_code))

    documented = {
        (path, method, int(status))
        for path in (CARD, HF, MCT)
        for method, operation in contract.document["paths"][path].items()
        if method != "parameters"
        for status in own_statuses(operation)
    }
    assert documented == seen


# --- Query budgets ----------------------------------------------------------------------------------------


def _count(call) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, len(queries)


def _revised(version, contributor, times: int) -> None:
    for index in range(times):
        card_revise(actor=contributor, version=version, sections={"task": f"Revision {index}."}, summary="")


@pytest.mark.parametrize(
    ("suffix", "budget"),
    [("", CARD_READ_BUDGET), ("/export/huggingface", EXPORT_BUDGET), ("/export/toolkit", EXPORT_BUDGET)],
    ids=["card", "huggingface", "toolkit"],
)
def test_reading_and_exporting_run_a_fixed_number_of_queries(
    client, model, contributor, headers, suffix, budget
):
    """Exactly as many queries for 1 slice and 1 revision as for 300 slices and 20 revisions."""
    small = version_register_for_tests(actor=contributor, model=model, slices=1)
    large = version_register_for_tests(actor=contributor, model=model, slices=300)
    _revised(large, contributor, 20)

    small_answer, at_small = _count(lambda: get(client, card_path(small.number, suffix=suffix), **headers))
    large_answer, at_large = _count(lambda: get(client, card_path(large.number, suffix=suffix), **headers))

    assert small_answer.status_code == large_answer.status_code == 200
    assert at_small == at_large <= budget, (at_small, at_large)


def test_revising_runs_a_fixed_number_of_queries(client, model, contributor, writer):
    version = version_register_for_tests(actor=contributor, model=model, slices=300)
    _revised(version, contributor, 20)
    every_section = {key: f"{key} text" for key in Section.values}

    one, few = _count(lambda: put_json(client, card_path(2), {"sections": {"task": "One."}}, **writer))
    many, lots = _count(lambda: put_json(client, card_path(2), {"sections": every_section}, **writer))

    assert one.status_code == many.status_code == 200, many.content
    assert few == lots <= CARD_REVISE_BUDGET, (few, lots)
