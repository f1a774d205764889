"""Promotion policies through the API: read by everyone who sees the model, revised by policy admins as
JSON, checked by the same parser as the page, refused (and audited) for everyone else. Every answer is held
to the OpenAPI document."""

import copy
import json

import pytest
from django.test import Client

from tests.api.support import API, bearer, error_fields, get, locked_out, own_statuses
from warehouse.api.examples import EXAMPLE_POLICY_UPDATE
from warehouse.audit.models import AuditEvent
from warehouse.promotions.models import PolicyRevision
from warehouse.promotions.policies.rules import DEFAULT_RULES, policy_parse

POLICY = "/models/{name}/policy"
REVISION = "/models/{name}/policy/revisions/{number}"
GLOBAL = "/policy"
GLOBAL_REVISION = "/policy/revisions/{number}"

BODY = {
    "rules": {
        "draft_to_staging": {"required_checks": ["source_run", "evaluation"]},
        "staging_to_production": {
            "required_checks": ["slices", "metric_bars"],
            "metric_bars": [{"metric": "auc", "op": ">=", "value": 0.8}],
            "slices": {"max_worsening": 0.02, "min_samples": 50},
        },
    },
    "reason": "Our own, at last.",
}


def put_json(client, path: str, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.put(f"{API}{path}", data=data, content_type="application/json", **extra)


def own_revisions(model) -> int:
    return PolicyRevision.objects.filter(policy__model=model).count()


# --- The contract -----------------------------------------------------------------------------------------


def test_every_answer_of_the_policy_endpoints_matches_the_document(
    client, contract, model, policy_admin, viewer, outsider, superuser
):
    admin, reader, stranger, root = bearer(policy_admin), bearer(viewer), bearer(outsider), bearer(superuser)
    locked = locked_out(client, superuser)
    seen: set[tuple[str, str, int]] = set()

    def check(response, path, method="get"):
        contract.check(response, path, method)
        seen.add((path, method, response.status_code))
        return response

    # The global default applies until the model has a policy of its own.
    check(get(client, "/models/fraud-scorer/policy", **reader), POLICY)
    check(get(client, "/models/fraud-scorer/policy"), POLICY)
    check(get(client, "/models/fraud-scorer/policy", **stranger), POLICY)
    # Sent with a key, which another body may not reuse (tests/api/test_idempotency.py covers every write).
    keyed = {**admin, "HTTP_IDEMPOTENCY_KEY": "policy-1"}
    check(put_json(client, "/models/fraud-scorer/policy", BODY, **keyed), POLICY, "put")
    check(put_json(client, "/models/fraud-scorer/policy", {**BODY, "reason": "x"}, **keyed), POLICY, "put")
    check(
        put_json(client, "/models/fraud-scorer/policy", {"rules": {}, "reason": "x"}, **admin), POLICY, "put"
    )
    check(put_json(client, "/models/fraud-scorer/policy", BODY), POLICY, "put")
    check(put_json(client, "/models/fraud-scorer/policy", BODY, **reader), POLICY, "put")
    check(put_json(client, "/models/fraud-scorer/policy", BODY, **stranger), POLICY, "put")
    check(get(client, "/models/fraud-scorer/policy", **locked), POLICY)
    check(put_json(client, "/models/fraud-scorer/policy", BODY, **locked), POLICY, "put")

    check(get(client, "/models/fraud-scorer/policy/revisions/1", **reader), REVISION)
    check(get(client, "/models/fraud-scorer/policy/revisions/1"), REVISION)
    check(get(client, "/models/fraud-scorer/policy/revisions/9", **reader), REVISION)
    check(get(client, "/models/fraud-scorer/policy/revisions/1", **locked), REVISION)

    check(get(client, "/policy", **stranger), GLOBAL)
    check(get(client, "/policy"), GLOBAL)
    keyed = {**root, "HTTP_IDEMPOTENCY_KEY": "global-policy-1"}
    check(put_json(client, "/policy", BODY, **keyed), GLOBAL, "put")
    check(put_json(client, "/policy", {**BODY, "reason": "x"}, **keyed), GLOBAL, "put")
    check(put_json(client, "/policy", {"rules": [], "reason": "x"}, **root), GLOBAL, "put")
    check(put_json(client, "/policy", BODY), GLOBAL, "put")
    check(put_json(client, "/policy", BODY, **admin), GLOBAL, "put")
    check(get(client, "/policy", **locked), GLOBAL)
    check(put_json(client, "/policy", BODY, **locked), GLOBAL, "put")

    check(get(client, "/policy/revisions/1", **reader), GLOBAL_REVISION)
    check(get(client, "/policy/revisions/1"), GLOBAL_REVISION)
    check(get(client, "/policy/revisions/99", **reader), GLOBAL_REVISION)
    check(get(client, "/policy/revisions/1", **locked), GLOBAL_REVISION)

    contract.check_component(client.delete(f"{API}/models/fraud-scorer/policy", **admin), "MethodNotAllowed")
    contract.check_component(
        client.post(f"{API}/policy/revisions/1", content_type="application/json", data="{}", **root),
        "MethodNotAllowed",
    )

    documented = {
        (path, method, int(status))
        for path, item in contract.document["paths"].items()
        if path in (POLICY, REVISION, GLOBAL, GLOBAL_REVISION)
        for method, operation in item.items()
        if method != "parameters"
        for status in own_statuses(operation)
    }
    assert documented - seen == set()


def test_the_example_body_is_valid_and_is_accepted(client, contract, model, policy_admin):
    operation = contract.document["paths"][POLICY]["put"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["review-board"]["value"]
    assert example == EXAMPLE_POLICY_UPDATE
    assert contract.errors("/components/schemas/PolicyUpdate", example) == []

    response = put_json(client, "/models/fraud-scorer/policy", example, **bearer(policy_admin))

    assert response.status_code == 200, response.content
    body = contract.check(response, POLICY, "put")
    assert body["revision"]["rules"] == policy_parse(example["rules"]).as_data()


def test_the_stored_default_rules_match_the_schema(contract):
    assert contract.errors("/components/schemas/PolicyRules", DEFAULT_RULES.as_data()) == []


# --- Reading --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["viewer", "contributor", "reviewer", "approver", "responder", "policy_admin"]
)
def test_every_role_in_the_team_reads_the_policy(client, contract, request, model, role):
    response = get(client, "/models/fraud-scorer/policy", **bearer(request.getfixturevalue(role)))
    assert response.status_code == 200
    body = contract.check(response, POLICY, "get")
    assert (body["model"], body["applies"]) == ("fraud-scorer", "global_default")
    revision = body["revision"]
    assert (revision["scope"], revision["number"], revision["author"]) == ("global", 1, None)
    assert revision["rules"] == DEFAULT_RULES.as_data()
    assert revision["api_url"].endswith("/api/v1/policy/revisions/1")
    assert revision["url"].endswith("/policy/?revision=1#revision-1")


def test_an_outsider_gets_404_as_if_the_model_did_not_exist(client, model, outsider):
    for path in ("/models/fraud-scorer/policy", "/models/fraud-scorer/policy/revisions/1"):
        hidden = get(client, path, **bearer(outsider))
        missing = get(client, path.replace("fraud-scorer", "no-such-model"), **bearer(outsider))
        assert (hidden.status_code, hidden.json()) == (404, missing.json())


# --- Revising -------------------------------------------------------------------------------------------


def test_a_policy_admin_saves_a_revision_that_applies_at_once(client, contract, model, policy_admin, viewer):
    response = put_json(client, "/models/fraud-scorer/policy", BODY, **bearer(policy_admin))

    assert response.status_code == 200, response.content
    body = contract.check(response, POLICY, "put")
    assert (body["applies"], body["revision"]["scope"], body["revision"]["number"]) == (
        "own",
        "fraud-scorer",
        1,
    )
    assert body["revision"]["author"] == "polly" and body["revision"]["reason"] == "Our own, at last."
    assert body["revision"]["rules"] == policy_parse(BODY["rules"]).as_data()
    event = AuditEvent.objects.filter(action="policy.revised", model_name="fraud-scorer").get()
    assert (event.actor, event.via[:10], event.data["revision"]) == (policy_admin, "api-token:", 1)

    second = copy.deepcopy(BODY) | {"reason": "Tighter."}
    second["rules"]["staging_to_production"]["slices"]["max_worsening"] = 0.01
    put_json(client, "/models/fraud-scorer/policy", second, **bearer(policy_admin))

    read = contract.check(get(client, "/models/fraud-scorer/policy", **bearer(viewer)), POLICY, "get")
    assert read["revision"]["number"] == 2
    first = contract.check(
        get(client, "/models/fraud-scorer/policy/revisions/1", **bearer(viewer)), REVISION, "get"
    )
    assert first["rules"]["staging_to_production"]["slices"]["max_worsening"] == 0.02
    assert first["api_url"].endswith("/api/v1/models/fraud-scorer/policy/revisions/1")


def test_names_no_version_reports_are_warnings_not_errors(client, contract, model, policy_admin):
    body = copy.deepcopy(BODY)
    body["rules"]["staging_to_production"]["metric_bars"].append({"metric": "aucc", "op": ">=", "value": 1})
    body["rules"]["staging_to_production"]["slices"] = {"scope": "listed", "slices": ["region=mars"]}

    response = put_json(client, "/models/fraud-scorer/policy", body, **bearer(policy_admin))

    assert response.status_code == 200
    assert contract.check(response, POLICY, "put")["warnings"] == [
        "staging_to_production: no version reports a metric called 'aucc'.",
        "staging_to_production: no version reports the slice 'region=mars'.",
    ]


BAD_BODIES = {
    "not-an-object": ([BODY], {"body"}),
    "unknown-field": ({**BODY, "colour": "blue"}, {"colour"}),
    "no-reason": ({"rules": BODY["rules"]}, {"reason"}),
    "reason-not-text": ({**BODY, "reason": 7}, {"reason"}),
    "rules-not-an-object": ({"rules": [], "reason": "x"}, {"rules"}),
    "missing-section": (
        {"rules": {"draft_to_staging": {}}, "reason": "x"},
        {"rules.staging_to_production"},
    ),
    "bad-fields": (
        {
            "rules": {
                "draft_to_staging": {"metric_bars": [{"metric": "auc", "op": "=", "value": "high"}]},
                "staging_to_production": {
                    "slices": {"min_samples": 0},
                    "signoffs": {"count": 11},
                    "required_checks": ["vibes"],
                    "colour": "blue",
                },
            },
            "reason": "",
        },
        {
            "rules.draft_to_staging.metric_bars[0].op",
            "rules.draft_to_staging.metric_bars[0].value",
            "rules.staging_to_production.slices.min_samples",
            "rules.staging_to_production.signoffs.count",
            "rules.staging_to_production.required_checks[0]",
            "rules.staging_to_production.colour",
            "reason",
        },
    ),
}


@pytest.mark.parametrize(("body", "fields"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_rules_are_400_with_every_field_by_its_path_and_nothing_is_written(
    client, contract, model, policy_admin, body, fields
):
    headers = bearer(policy_admin)
    get(client, "/models/fraud-scorer/policy", **headers)  # the global default, written on first read
    before = (PolicyRevision.objects.count(), AuditEvent.objects.count())

    response = put_json(client, "/models/fraud-scorer/policy", body, **headers)

    assert response.status_code == 400
    contract.check(response, POLICY, "put")
    assert set(error_fields(response)) == fields
    assert (PolicyRevision.objects.count(), AuditEvent.objects.count()) == before


def test_the_schema_refuses_what_the_api_refuses(contract):
    for body, _ in BAD_BODIES.values():
        assert contract.errors("/components/schemas/PolicyUpdate", body), body


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("policy_admin", 200),
        ("superuser", 200),
        ("viewer", 403),
        ("contributor", 403),
        ("reviewer", 403),
        ("approver", 403),
        ("responder", 403),
        ("outsider", 404),
    ],
)
def test_only_policy_admins_revise_and_refusals_are_on_the_record(
    client, contract, request, model, role, status
):
    user = request.getfixturevalue(role)
    before = own_revisions(model)

    response = put_json(client, "/models/fraud-scorer/policy", BODY, **bearer(user))

    assert response.status_code == status, response.content
    contract.check(response, POLICY, "put")
    if status == 200:
        assert own_revisions(model) == before + 1
        return
    assert own_revisions(model) == before
    if status == 403:
        refusal = AuditEvent.objects.order_by("-sequence").first()
        assert (refusal.action, refusal.actor, refusal.model_name, refusal.data["permission"]) == (
            "permission.denied",
            user,
            "fraud-scorer",
            "registry.admin_policy",
        )


def test_a_session_caller_needs_the_csrf_token(model, policy_admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(policy_admin)
    response = put_json(browser, "/models/fraud-scorer/policy", BODY)
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    assert own_revisions(model) == 0


def test_the_global_default_is_revised_by_superusers_only(client, contract, model, superuser, policy_admin):
    refused = put_json(client, "/policy", BODY, **bearer(policy_admin))
    assert refused.status_code == 403
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert (refusal.action, refusal.data["permission"]) == ("permission.denied", "superuser")

    saved = contract.check(put_json(client, "/policy", BODY, **bearer(superuser)), GLOBAL, "put")
    assert (saved["model"], saved["applies"], saved["revision"]["number"]) == (None, "global_default", 2)
    # A model without its own policy follows it at once.
    follows = get(client, "/models/fraud-scorer/policy", **bearer(policy_admin)).json()
    assert follows["revision"]["number"] == 2 and follows["revision"]["scope"] == "global"


def test_a_revision_answers_the_requests_it_superseded_and_only_those(client, contract, model, policy_admin):
    from tests.promotions.test_promotion_request import asked, awaiting, in_staging, ready_version
    from warehouse.registry.models import Stage

    contributor = model.created_by
    to_staging = awaiting(ready_version(actor=contributor, model=model), actor=contributor)
    to_production = asked(in_staging(actor=contributor, model=model), actor=contributor, to=Stage.PRODUCTION)
    rules = json.loads(json.dumps(DEFAULT_RULES.as_data()))
    rules["staging_to_production"]["latency_p95_ms_max"] = 50.0
    body = {"rules": rules, "reason": "A latency budget for production."}

    response = put_json(client, "/models/fraud-scorer/policy", body, **bearer(policy_admin))

    assert response.status_code == 200, response.content
    answer = contract.check(response, POLICY, "put")
    assert [(s["id"], s["target_stage"], s["requested_by"]) for s in answer["superseded"]] == [
        (to_production.pk, "production", contributor.username)
    ]
    assert answer["superseded"][0]["api_url"].endswith(
        f"/api/v1/models/fraud-scorer/promotions/{to_production.pk}"
    )
    to_staging.refresh_from_db()
    assert to_staging.state == "awaiting_signoff"
