"""Promotion requests and sign-offs through the API: a pipeline asks for promotion, reviewers read the request
and sign it off, the requester may withdraw it, and a version is retired. Every answer is held to the OpenAPI
document; every refusal is JSON with a code, and writes nothing but its audit event. Gate runs are finished by
calling the worker's service directly (the worker itself is tested in tests/promotions)."""

import copy

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.support import API, bearer, error_fields, get, locked_out, own_statuses, post_json
from tests.factories import user_with_roles, version_move, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import GateRun, GateState, PromotionRequest, RequestState, SignOff
from warehouse.promotions.policies.rules import DEFAULT_RULES
from warehouse.promotions.policies.services import policy_in_force, policy_revise
from warehouse.promotions.requests.services import promotion_request_cancel, promotion_request_open
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import ModelVersion, Stage, StageTransition

REQUESTS = "/models/{name}/versions/{number}/promotions"
REQUEST = "/models/{name}/promotions/{promotion_id}"
SIGNOFFS = "/models/{name}/promotions/{promotion_id}/signoffs"
CANCEL = "/models/{name}/promotions/{promotion_id}/cancel"
ARCHIVE = "/models/{name}/versions/{number}/archive"
OURS = (REQUESTS, REQUEST, SIGNOFFS, CANCEL, ARCHIVE)
SERVER = f"{settings.WAREHOUSE_BASE_URL}/api/v1"
TO_STAGING = {"target_stage": "staging", "justification": "Better recall on new merchants."}

# Each includes the token lookup; measured on SQLite and PostgreSQL alike. The detail reads the people it
# names (the gate run's requester, who closed or overrode it) in a query of their own rather than as more
# joins: a thirteen-table join took PostgreSQL 40 ms to plan.
REQUEST_DETAIL_BUDGET = 6
REQUEST_LIST_BUDGET = 5


@pytest.fixture
def draft(model, contributor):
    """fraud-scorer v2, a draft with its evidence and card: its gate for Staging passes."""
    # The global default policy is written on first use; write it now, so tests count only their own rows.
    policy_in_force(model=model)
    return version_register_for_tests(actor=contributor, model=model)


@pytest.fixture
def dana(team):
    """Both asks for promotion and signs off moves to Staging."""
    return user_with_roles("dana", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))


def requests_path(version) -> str:
    return f"/models/{version.model.name}/versions/{version.number}/promotions"


def request_path(promotion, action: str = "") -> str:
    return f"/models/{promotion.model.name}/promotions/{promotion.pk}" + (f"/{action}" if action else "")


def requested(version, actor, target: str = "staging", *, gate: bool = True) -> PromotionRequest:
    """A request made through the service, its gate run executed as a worker would."""
    promotion = promotion_request_open(
        actor=actor, version=version, target_stage=target, justification="Better recall."
    )
    if gate:
        assert gate_run_execute(run_id=promotion.gate_run_id) is not None
    promotion.refresh_from_db()
    return promotion


def written() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (PromotionRequest, GateRun, SignOff, StageTransition, AuditEvent)
    }


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence").first()


# --- The contract -----------------------------------------------------------------------------------------


def test_every_answer_of_the_promotion_endpoints_matches_the_document(
    client, contract, model, version, draft, contributor, reviewer, viewer, outsider
):
    writer, reader, signer, stranger = bearer(contributor), bearer(viewer), bearer(reviewer), bearer(outsider)
    locked = locked_out(client, contributor)
    seen: set[tuple[str, str, int]] = set()

    def check(response, path, method="get"):
        contract.check(response, path, method)
        seen.add((path, method, response.status_code))
        return response

    requests = requests_path(draft)
    check(get(client, requests, **reader), REQUESTS)  # none yet
    created = check(post_json(client, requests, TO_STAGING, **writer), REQUESTS, "post").json()
    one = f"/models/fraud-scorer/promotions/{created['id']}"
    check(post_json(client, requests, TO_STAGING, **writer), REQUESTS, "post")  # 409: already open
    check(post_json(client, requests, {**TO_STAGING, "target_stage": "archived"}, **writer), REQUESTS, "post")
    check(post_json(client, requests, TO_STAGING), REQUESTS, "post")
    check(post_json(client, requests, TO_STAGING, **reader), REQUESTS, "post")
    check(post_json(client, requests, TO_STAGING, **stranger), REQUESTS, "post")
    check(post_json(client, requests, TO_STAGING, **locked), REQUESTS, "post")
    check(get(client, one, **reader), REQUEST)  # checking

    gate_run_execute(run_id=created["gate_run"]["id"])
    approve = {"decision": "approve", "comment": "Looks right."}
    check(post_json(client, f"{one}/signoffs", {"decision": "maybe"}, **signer), SIGNOFFS, "post")
    check(post_json(client, f"{one}/signoffs", approve), SIGNOFFS, "post")
    check(post_json(client, f"{one}/signoffs", approve, **reader), SIGNOFFS, "post")
    check(post_json(client, f"{one}/signoffs", approve, **stranger), SIGNOFFS, "post")
    check(post_json(client, f"{one}/signoffs", approve, **locked), SIGNOFFS, "post")
    check(post_json(client, f"{one}/signoffs", approve, **signer), SIGNOFFS, "post")  # approved: the move
    check(post_json(client, f"{one}/signoffs", approve, **signer), SIGNOFFS, "post")  # 409: closed
    check(get(client, one, **reader), REQUEST)  # approved, every field filled
    check(get(client, requests, **reader), REQUESTS)

    # Cancelling: the request to Production of the version now in Staging.
    upward = check(
        post_json(client, requests, {**TO_STAGING, "target_stage": "production"}, **writer), REQUESTS, "post"
    ).json()
    cancel = f"/models/fraud-scorer/promotions/{upward['id']}/cancel"
    check(post_json(client, cancel, {"reason": 42}, **writer), CANCEL, "post")
    check(post_json(client, cancel, {}), CANCEL, "post")
    check(post_json(client, cancel, {}, **signer), CANCEL, "post")  # not the requester
    check(post_json(client, cancel, {}, **stranger), CANCEL, "post")
    check(post_json(client, cancel, {}, **locked), CANCEL, "post")
    check(post_json(client, cancel, {"reason": "Wrong candidate."}, **writer), CANCEL, "post")
    check(post_json(client, cancel, {}, **writer), CANCEL, "post")  # 409: already cancelled

    archive = f"/models/fraud-scorer/versions/{version.number}/archive"
    check(post_json(client, archive, {"reason": "  "}, **writer), ARCHIVE, "post")
    check(post_json(client, archive, {"reason": "Superseded by v2."}), ARCHIVE, "post")
    check(post_json(client, archive, {"reason": "Superseded by v2."}, **reader), ARCHIVE, "post")
    check(post_json(client, archive, {"reason": "Superseded by v2."}, **stranger), ARCHIVE, "post")
    check(post_json(client, archive, {"reason": "Superseded by v2."}, **locked), ARCHIVE, "post")
    check(post_json(client, archive, {"reason": "Superseded by v2."}, **writer), ARCHIVE, "post")
    check(post_json(client, archive, {"reason": "Again."}, **writer), ARCHIVE, "post")  # 409

    for path, concrete in [(REQUESTS, requests), (REQUEST, one)]:
        check(get(client, concrete), path)
        check(get(client, concrete, **stranger), path)
        check(get(client, concrete, **locked), path)
    check(get(client, "/models/fraud-scorer/promotions/999999", **reader), REQUEST)

    contract.check_component(client.delete(f"{API}{one}", **writer), "MethodNotAllowed")
    contract.check_component(client.get(f"{API}{one}/signoffs", **writer), "MethodNotAllowed")
    contract.check_component(client.get(f"{API}{archive}", **writer), "MethodNotAllowed")

    documented = {
        (path, method, int(status))
        for path, item in contract.document["paths"].items()
        if path in OURS
        for method, operation in item.items()
        if method != "parameters"
        for status in own_statuses(operation)
    }
    assert documented - seen == set()


def test_the_example_bodies_are_valid_and_accepted(client, contract, model, draft, contributor):
    """The document's examples are bodies the API takes (the schema's own patterns are checked too)."""
    operation = contract.document["paths"][REQUESTS]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["to-staging"]["value"]
    assert contract.errors(contract.schema_pointer("PromotionRequestCreate"), example) == []
    assert contract.errors(
        contract.schema_pointer("PromotionRequestCreate"), {**example, "justification": " "}
    )
    assert contract.errors(
        contract.schema_pointer("SignOffCreate"), {"decision": "approve", "override": "no"}
    )

    response = post_json(client, requests_path(draft), example, **bearer(contributor))

    assert response.status_code == 201, response.content


# --- Draft → Staging, the whole way through the API ------------------------------------------------------


def test_a_pipeline_asks_for_staging_and_a_reviewer_approves_it(
    client, contract, model, draft, contributor, reviewer, viewer
):
    writer, reader, signer = bearer(contributor), bearer(viewer), bearer(reviewer)

    response = post_json(client, requests_path(draft), TO_STAGING, **writer)

    assert response.status_code == 201, response.content
    body = contract.check(response, REQUESTS, "post")
    promotion = PromotionRequest.objects.get()
    run = promotion.gate_run
    assert (
        response["Location"] == body["api_url"] == f"{SERVER}/models/fraud-scorer/promotions/{promotion.pk}"
    )
    assert body["url"] == f"{settings.WAREHOUSE_BASE_URL}/models/fraud-scorer/promotions/{promotion.pk}/"
    assert (body["id"], body["state"], body["from_stage"], body["target_stage"]) == (
        promotion.pk,
        "checking",
        "draft",
        "staging",
    )
    assert body["version"] == {
        "id": "fraud-scorer/v2",
        "version": 2,
        "url": f"{settings.WAREHOUSE_BASE_URL}/models/fraud-scorer/versions/2/",
        "api_url": f"{SERVER}/models/fraud-scorer/versions/2",
    }
    assert (body["justification"], body["requested_by"]) == (TO_STAGING["justification"], "carol")
    assert body["gate_run"] == {
        "id": run.pk,
        "state": "pending",
        "policy_revision": {
            "scope": "global",
            "number": 1,
            "url": f"{settings.WAREHOUSE_BASE_URL}/policy/?revision=1#revision-1",
            "api_url": f"{SERVER}/policy/revisions/1",
        },
        "url": f"{settings.WAREHOUSE_BASE_URL}/models/fraud-scorer/versions/2/gates/{run.pk}/",
        "api_url": f"{SERVER}/models/fraud-scorer/versions/2/gate-runs/{run.pk}",
    }
    assert body["signoffs"] == [] and body["signoffs_needed"] == 1
    assert body["signoffs_required"] == {"count": 1, "roles": ["reviewer"]}
    assert body["closed_at"] is body["closed_by"] is body["closed_reason"] is None
    requested_event = last_event()
    assert (requested_event.action, requested_event.actor, requested_event.via[:10]) == (
        "promotion.requested",
        contributor,
        "api-token:",
    )

    assert gate_run_execute(run_id=run.pk) == GateState.PASSED
    waiting = contract.check(get(client, request_path(promotion), **reader), REQUEST, "get")
    assert (waiting["state"], waiting["gate_run"]["state"], waiting["signoffs_needed"]) == (
        "awaiting_signoff",
        "passed",
        1,
    )

    signed = post_json(
        client,
        request_path(promotion, "signoffs"),
        {"decision": "approve", "comment": "Slices look fine."},
        **signer,
    )

    assert signed.status_code == 201, signed.content
    answer = contract.check(signed, SIGNOFFS, "post")
    signoff = SignOff.objects.get()
    assert answer["signoff"] == {
        "signer": "rita",
        "role": "reviewer",
        "decision": "approve",
        "comment": "Slices look fine.",
        "override": False,
        "gate_run": run.pk,
        "created_at": signoff.created_at.isoformat(),
    }
    after = answer["promotion_request"]
    assert (after["state"], after["signoffs_needed"], after["closed_by"]) == ("approved", 0, "rita")
    assert after["signoffs"] == [answer["signoff"]] and after["closed_at"]
    draft.refresh_from_db()
    assert draft.stage == Stage.STAGING
    assert get(client, "/models/fraud-scorer/versions/2", **reader).json()["stage"] == "staging"
    actions = list(AuditEvent.objects.order_by("-sequence").values_list("action", flat=True)[:3])
    assert actions == ["promotion.approved", "version.stage_changed", "signoff.recorded"]
    assert last_event().via.startswith("api-token:")


def test_the_list_is_the_versions_requests_newest_first(client, contract, model, draft, contributor, viewer):
    first = requested(draft, contributor)
    promotion_request_cancel(actor=contributor, promotion=first, reason="Wrong data.")
    second = requested(draft, contributor, gate=False)
    other = version_register_for_tests(actor=contributor, model=model)
    requested(other, contributor, gate=False)

    body = contract.check(get(client, requests_path(draft), **bearer(viewer)), REQUESTS, "get")

    assert body["count"] == 2
    assert [(row["id"], row["state"]) for row in body["results"]] == [
        (second.pk, "checking"),
        (first.pk, "cancelled"),
    ]
    cancelled = body["results"][1]
    assert (cancelled["closed_by"], cancelled["closed_reason"]) == ("carol", "Wrong data.")
    assert "signoffs" not in cancelled


# --- Refusals ---------------------------------------------------------------------------------------------


def test_a_request_for_a_stage_that_is_not_next_is_409_and_on_the_record(
    client, contract, model, draft, contributor
):
    headers = bearer(contributor)
    before = written()
    response = post_json(
        client, requests_path(draft), {**TO_STAGING, "target_stage": "production"}, **headers
    )

    assert response.status_code == 409
    error = contract.check(response, REQUESTS, "post")["error"]
    assert error["code"] == "not_next_stage" and "Draft goes to Staging" in error["message"]
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}
    assert (last_event().action, last_event().data["code"]) == ("promotion.refused", "not_next_stage")


def test_a_second_open_request_for_the_same_move_is_409(client, contract, model, draft, contributor):
    first = requested(draft, contributor, gate=False)

    response = post_json(client, requests_path(draft), TO_STAGING, **bearer(contributor))

    assert response.status_code == 409
    error = contract.check(response, REQUESTS, "post")["error"]
    assert error["code"] == "request_open" and f"#{first.pk}" in error["message"]
    assert PromotionRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b'{"target_stage": "staging",', {"body"}),
        (b"", {"body"}),
        (["staging"], {"body"}),
        ({"target_stage": "staging"}, {"justification"}),
        ({"target_stage": "staging", "justification": "   "}, {"justification"}),
        ({"target_stage": "staging", "justification": 7}, {"justification"}),
        ({"target_stage": "staging", "justification": "x" * 5001}, {"justification"}),
        ({"target_stage": "archived", "justification": "Why not."}, {"target_stage"}),
        ({"justification": "Why not."}, {"target_stage"}),
        ({**TO_STAGING, "force": True}, {"force"}),
    ],
)
def test_a_bad_request_body_is_400_and_writes_nothing(
    client, contract, model, draft, contributor, body, fields
):
    headers = bearer(contributor)
    before = written()

    response = post_json(client, requests_path(draft), body, **headers)

    assert response.status_code == 400, response.content
    assert contract.check(response, REQUESTS, "post")["error"]["code"] == "invalid"
    assert set(error_fields(response)) == fields
    assert written() == before


def test_a_body_that_is_not_declared_json_is_415(client, model, draft, contributor):
    response = client.post(
        f"{API}{requests_path(draft)}",
        data="target_stage=staging",
        content_type="text/plain",
        **bearer(contributor),
    )
    assert response.status_code == 415 and set(error_fields(response)) == {"body"}
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not PromotionRequest.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("contributor", 201),
        ("superuser", 201),
        ("viewer", 403),
        ("reviewer", 403),
        ("approver", 403),
        ("outsider", 404),
    ],
)
def test_only_those_who_may_request_promotion_do(client, contract, request, model, draft, role, status):
    headers = bearer(request.getfixturevalue(role))
    events = AuditEvent.objects.count()

    response = post_json(client, requests_path(draft), TO_STAGING, **headers)

    assert response.status_code == status, response.content
    contract.check(response, REQUESTS, "post")
    assert PromotionRequest.objects.exists() is (status == 201)
    if status == 403:
        assert response.json()["error"]["code"] == "permission_denied"
        assert AuditEvent.objects.count() == events + 1
        assert (last_event().action, last_event().data["permission"]) == (
            "permission.denied",
            "registry.request_promotion",
        )


# --- Sign-off refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"{not json", {"body"}),
        ("null", {"body"}),
        ({}, {"decision"}),
        ({"decision": "maybe"}, {"decision"}),
        ({"decision": "reject"}, {"comment"}),
        ({"decision": "reject", "comment": "   "}, {"comment"}),
        ({"decision": "approve", "comment": ["fine"]}, {"comment"}),
        ({"decision": "approve", "override": "false"}, {"override"}),
        ({"decision": "reject", "comment": "No.", "override": True}, {"override"}),
        ({"decision": "approve", "by": "rita"}, {"by"}),
    ],
)
def test_a_bad_signoff_body_is_400_and_writes_nothing(
    client, contract, model, draft, contributor, reviewer, body, fields
):
    promotion = requested(draft, contributor)
    headers = bearer(reviewer)
    before = written()

    response = post_json(client, request_path(promotion, "signoffs"), body, **headers)

    assert response.status_code == 400, response.content
    contract.check(response, SIGNOFFS, "post")
    assert set(error_fields(response)) == fields
    assert written() == before
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF


def test_an_override_without_the_permission_is_a_403_whatever_the_body(
    client, contract, model, draft, contributor, reviewer
):
    # Who may act is decided before what they wrote: no justification, still a refusal on the record.
    promotion = requested(draft, contributor)
    before = AuditEvent.objects.filter(action="permission.denied").count()
    response = post_json(
        client,
        request_path(promotion, "signoffs"),
        {"decision": "approve", "override": True},
        **bearer(reviewer),
    )
    assert response.status_code == 403, response.content
    assert AuditEvent.objects.filter(action="permission.denied").count() == before + 1


@pytest.mark.parametrize("who", ["requester", "registrant"])
def test_four_eyes_the_requester_and_the_registrant_may_not_sign(
    client, contract, model, contributor, dana, team, who
):
    erin = user_with_roles("erin", Role.CONTRIBUTOR, Role.REVIEWER, teams=(team,))
    # erin registers, dana asks: each may sign off the other's work, never their own.
    candidate = version_register_for_tests(actor=erin, model=model)
    promotion = requested(candidate, dana)
    signer = dana if who == "requester" else erin
    headers = bearer(signer)
    before = written()

    response = post_json(client, request_path(promotion, "signoffs"), {"decision": "approve"}, **headers)

    assert response.status_code == 403, response.content
    error = contract.check(response, SIGNOFFS, "post")["error"]
    assert error["code"] == "permission_denied" and "four eyes" in error["message"]
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}
    assert (last_event().action, last_event().actor, last_event().data["permission"]) == (
        "permission.denied",
        signer,
        "four-eyes",
    )
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF


@pytest.mark.parametrize("role", ["viewer", "contributor", "approver"])
def test_signing_needs_the_role_the_policy_names(client, contract, request, model, draft, dana, role):
    promotion = requested(draft, dana)
    response = post_json(
        client,
        request_path(promotion, "signoffs"),
        {"decision": "approve"},
        **bearer(request.getfixturevalue(role)),
    )
    assert response.status_code == 403
    error = contract.check(response, SIGNOFFS, "post")["error"]
    assert error["code"] == "permission_denied" and "reviewer role" in error["message"]
    assert not SignOff.objects.exists()


def test_approving_before_the_gate_passed_is_refused(client, contract, model, draft, contributor, reviewer):
    promotion = requested(draft, contributor, gate=False)

    response = post_json(
        client, request_path(promotion, "signoffs"), {"decision": "approve"}, **bearer(reviewer)
    )

    assert response.status_code == 403
    error = contract.check(response, SIGNOFFS, "post")["error"]
    assert error["code"] == "permission_denied" and "still running" in error["message"]
    assert not SignOff.objects.exists()


def test_overriding_a_running_gate_is_409(client, contract, model, draft, contributor, superuser):
    promotion = requested(draft, contributor, gate=False)

    response = post_json(
        client,
        request_path(promotion, "signoffs"),
        {"decision": "approve", "comment": "Urgent fix.", "override": True},
        **bearer(superuser),
    )

    assert response.status_code == 409
    assert contract.check(response, SIGNOFFS, "post")["error"]["code"] == "gate_running"
    assert (last_event().action, last_event().data["code"]) == ("signoff.refused", "gate_running")


def test_a_rejection_closes_the_request_and_later_sign_offs_are_409(
    client, contract, model, draft, contributor, reviewer, team
):
    promotion = requested(draft, contributor)
    rejected = post_json(
        client,
        request_path(promotion, "signoffs"),
        {"decision": "reject", "comment": "region=r2 regressed."},
        **bearer(reviewer),
    )
    assert rejected.status_code == 201, rejected.content
    after = contract.check(rejected, SIGNOFFS, "post")["promotion_request"]
    assert (after["state"], after["closed_reason"], after["signoffs_needed"]) == (
        "rejected",
        "region=r2 regressed.",
        0,
    )

    second = user_with_roles("rob", Role.REVIEWER, teams=(team,))
    again = post_json(client, request_path(promotion, "signoffs"), {"decision": "approve"}, **bearer(second))

    assert again.status_code == 409
    assert contract.check(again, SIGNOFFS, "post")["error"]["code"] == "request_closed"
    draft.refresh_from_db()
    assert draft.stage == Stage.DRAFT and SignOff.objects.count() == 1


def test_signing_twice_is_409(client, contract, model, draft, contributor, reviewer, policy_admin):
    rules = copy.deepcopy(DEFAULT_RULES.as_data())
    rules["draft_to_staging"]["signoffs"]["count"] = 2
    policy_revise(actor=policy_admin, model=model, rules_data=rules, reason="Two reviewers.")
    promotion = requested(draft, contributor)
    headers = bearer(reviewer)
    first = post_json(client, request_path(promotion, "signoffs"), {"decision": "approve"}, **headers)
    assert first.status_code == 201
    assert first.json()["promotion_request"]["signoffs_needed"] == 1

    again = post_json(client, request_path(promotion, "signoffs"), {"decision": "approve"}, **headers)

    assert again.status_code == 409
    assert contract.check(again, SIGNOFFS, "post")["error"]["code"] == "already_signed"


def test_an_override_approves_a_failed_gate_and_is_flagged(client, contract, model, contributor, superuser):
    candidate = version_register_for_tests(actor=contributor, model=model, source_run=None)
    promotion = requested(candidate, contributor)
    assert promotion.state == RequestState.CHECKS_FAILED, promotion.gate_run.state

    response = post_json(
        client,
        request_path(promotion, "signoffs"),
        {"decision": "approve", "comment": "The run was tracked by hand; see TICKET-1.", "override": True},
        **bearer(superuser),
    )

    assert response.status_code == 201, response.content
    body = contract.check(response, SIGNOFFS, "post")
    assert body["signoff"]["override"] is True
    after = body["promotion_request"]
    assert (after["state"], after["overridden"], after["overridden_by"]) == ("approved", True, "root")
    assert after["override_justification"] == "The run was tracked by hand; see TICKET-1."


# --- Cancelling -------------------------------------------------------------------------------------------


def test_the_requester_cancels_and_others_may_not(client, contract, model, draft, contributor, reviewer):
    promotion = requested(draft, contributor)

    refused = post_json(client, request_path(promotion, "cancel"), {"reason": "No."}, **bearer(reviewer))
    assert refused.status_code == 403
    assert contract.check(refused, CANCEL, "post")["error"]["code"] == "permission_denied"

    response = post_json(
        client, request_path(promotion, "cancel"), {"reason": "Wrong data."}, **bearer(contributor)
    )

    assert response.status_code == 200, response.content
    body = contract.check(response, CANCEL, "post")
    assert (body["state"], body["closed_by"], body["closed_reason"]) == ("cancelled", "carol", "Wrong data.")
    assert last_event().action == "promotion.cancelled"

    again = post_json(client, request_path(promotion, "cancel"), {}, **bearer(contributor))
    assert again.status_code == 409
    assert contract.check(again, CANCEL, "post")["error"]["code"] == "request_closed"


def test_cancelling_without_a_reason_says_withdrawn(client, model, draft, contributor):
    promotion = requested(draft, contributor, gate=False)
    response = post_json(client, request_path(promotion, "cancel"), {}, **bearer(contributor))
    assert response.status_code == 200
    assert response.json()["closed_reason"] == "Withdrawn by the requester."


# --- Archiving --------------------------------------------------------------------------------------------


def archive_path(version) -> str:
    return f"/models/{version.model.name}/versions/{version.number}/archive"


def test_archiving_a_draft_supersedes_its_open_request(client, contract, model, draft, contributor):
    promotion = requested(draft, contributor)

    response = post_json(
        client, archive_path(draft), {"reason": "Trained on the wrong month."}, **bearer(contributor)
    )

    assert response.status_code == 200, response.content
    body = contract.check(response, ARCHIVE, "post")
    assert (body["id"], body["stage"]) == ("fraud-scorer/v2", "archived")
    promotion.refresh_from_db()
    assert promotion.state == RequestState.SUPERSEDED

    again = post_json(client, archive_path(draft), {"reason": "Again."}, **bearer(contributor))
    assert again.status_code == 409
    assert contract.check(again, ARCHIVE, "post")["error"]["code"] == "already_in_stage"


def test_archiving_production_needs_the_approver(client, contract, model, version, contributor, approver):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(contributor)
    before = written()

    refused = post_json(client, archive_path(version), {"reason": "Retired."}, **headers)

    assert refused.status_code == 403
    assert contract.check(refused, ARCHIVE, "post")["error"]["code"] == "permission_denied"
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}
    assert last_event().data["permission"] == "registry.archive_production"

    response = post_json(client, archive_path(version), {"reason": "Retired."}, **bearer(approver))
    assert response.status_code == 200 and response.json()["stage"] == "archived"
    assert not ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [({}, {"reason"}), ({"reason": ""}, {"reason"}), ({"reason": 1}, {"reason"}), ("[]", {"body"})],
)
def test_archiving_without_a_reason_is_400_and_writes_nothing(
    client, model, draft, contributor, body, fields
):
    headers = bearer(contributor)
    before = written()
    response = post_json(client, archive_path(draft), body, **headers)
    assert response.status_code == 400 and set(error_fields(response)) == fields
    assert written() == before
    draft.refresh_from_db()
    assert draft.stage == Stage.DRAFT


# --- Who may see ------------------------------------------------------------------------------------------


def test_an_outsider_gets_404_everywhere_and_learns_nothing(client, model, draft, contributor, outsider):
    promotion = requested(draft, contributor)
    headers = bearer(outsider)
    before = written()
    calls = [
        ("get", requests_path(draft), None),
        ("post", requests_path(draft), TO_STAGING),
        ("get", request_path(promotion), None),
        ("post", request_path(promotion, "signoffs"), {"decision": "approve"}),
        ("post", request_path(promotion, "cancel"), {}),
        ("post", archive_path(draft), {"reason": "Gone."}),
    ]
    for method, path, body in calls:
        hidden = get(client, path, **headers) if method == "get" else post_json(client, path, body, **headers)
        missing_path = path.replace("fraud-scorer", "no-such-model")
        missing = (
            get(client, missing_path, **headers)
            if method == "get"
            else post_json(client, missing_path, body, **headers)
        )
        assert (hidden.status_code, hidden.json()) == (404, missing.json()), path
        assert hidden.json()["error"]["code"] == "not_found"
    assert written() == before


def test_a_request_of_another_model_is_404_under_this_one(client, model, draft, contributor, viewer, team):
    promotion = requested(draft, contributor)
    other = version_register_for_tests(actor=contributor, model=model).model
    assert other == model
    from tests.factories import model_create_for_tests

    elsewhere = model_create_for_tests(actor=contributor, name="churn", team=team)
    response = get(client, f"/models/{elsewhere.name}/promotions/{promotion.pk}", **bearer(viewer))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --- Query budgets ----------------------------------------------------------------------------------------


def _count(client, path, headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = get(client, path, **headers)
    assert response.status_code == 200, response.content
    return len(queries)


def test_reading_a_request_does_not_run_a_query_per_signoff(
    client, model, draft, contributor, viewer, policy_admin, team, django_assert_max_num_queries
):
    rules = copy.deepcopy(DEFAULT_RULES.as_data())
    rules["draft_to_staging"]["signoffs"]["count"] = 10
    policy_revise(actor=policy_admin, model=model, rules_data=rules, reason="A board of ten.")
    promotion = requested(draft, contributor)
    headers = bearer(viewer)
    get(client, "/models", **headers)  # the token's first use is recorded once

    counts = []
    for signers in (1, 9):
        while SignOff.objects.filter(request=promotion).count() < signers:
            index = SignOff.objects.count()
            reviewer = user_with_roles(f"reviewer-{index:02d}", Role.REVIEWER, teams=(team,))
            signoff_record(actor=reviewer, promotion=promotion, decision="approve", comment=f"ok {index}")
        counts.append(_count(client, request_path(promotion), headers))
        with django_assert_max_num_queries(REQUEST_DETAIL_BUDGET):
            body = get(client, request_path(promotion), **headers).json()
        assert len(body["signoffs"]) == signers and body["signoffs_needed"] == 10 - signers
    assert counts[0] == counts[1], counts


def test_listing_requests_does_not_run_a_query_per_request(
    client, model, draft, contributor, viewer, django_assert_max_num_queries
):
    headers = bearer(viewer)
    get(client, "/models", **headers)
    counts = []
    for rows in (1, 8):
        while PromotionRequest.objects.filter(version=draft).count() < rows:
            open_one = PromotionRequest.objects.filter(version=draft, state__in=["checking"]).first()
            if open_one is not None:
                promotion_request_cancel(actor=contributor, promotion=open_one, reason="Again.")
            requested(draft, contributor, gate=False)
        counts.append(_count(client, requests_path(draft), headers))
        with django_assert_max_num_queries(REQUEST_LIST_BUDGET):
            assert get(client, requests_path(draft), **headers).json()["count"] == rows
    assert counts[0] == counts[1], counts
