"""The ladder on every endpoint: anonymous 401; a model you may not see is a 404 (and absent from the list);
every role of the model's team reads; only those who may register, register."""

import pytest

from tests.api.support import bearer, get, post_json, written
from tests.factories import evidence_payload, version_move
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import Stage

# (documented path, concrete path)
READS = [
    ("/models", "/models"),
    ("/models/{name}", "/models/fraud-scorer"),
    ("/models/{name}/versions", "/models/fraud-scorer/versions"),
    ("/models/{name}/versions/{number}", "/models/fraud-scorer/versions/1"),
    ("/models/{name}/production", "/models/fraud-scorer/production"),
]
MODEL_READS = READS[1:]
ROLES = ["contributor", "viewer", "reviewer", "approver", "responder", "policy_admin", "superuser"]


@pytest.fixture
def in_production(version, contributor):
    # So that the production lookup has something to answer for those who may see it.
    return version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)


@pytest.mark.parametrize(("documented", "path"), READS, ids=[path for _, path in READS])
def test_anonymous_is_401_on_every_read(client, contract, in_production, documented, path):
    response = get(client, path)
    assert response.status_code == 401
    assert contract.check(response, documented, "get")["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("documented", "path"), READS, ids=[path for _, path in READS])
def test_every_role_reads(client, contract, request, in_production, role, documented, path):
    user = request.getfixturevalue(role)
    response = get(client, path, **bearer(user))
    assert response.status_code == 200, response.content
    contract.check(response, documented, "get")


@pytest.mark.parametrize(("documented", "path"), MODEL_READS, ids=[path for _, path in MODEL_READS])
def test_an_outsider_gets_404_as_if_the_model_did_not_exist(
    client, contract, in_production, outsider, documented, path
):
    response = get(client, path, **bearer(outsider))
    assert response.status_code == 404
    assert contract.check(response, documented, "get")["error"]["code"] == "not_found"
    # Indistinguishable from a model that does not exist.
    missing = get(client, path.replace("fraud-scorer", "no-such-model"), **bearer(outsider))
    assert (missing.status_code, missing.json()) == (404, response.json())


def test_an_outsider_does_not_see_the_model_in_the_list(
    client, contract, in_production, outsider, contributor
):
    # The outsider holds every role and has a model of their own: only that one is listed.
    post_json(client, "/models/oscars-model/versions", evidence_payload(), **bearer(outsider))

    body = contract.check(get(client, "/models", **bearer(outsider)), "/models", "get")

    assert [row["name"] for row in body["results"]] == ["oscars-model"]
    assert body["count"] == 1
    for filtered in ("?search=fraud", "?team=payments", "?owner=carol", "?stage=production"):
        assert get(client, f"/models{filtered}", **bearer(outsider)).json()["results"] == []
    # And the owner's team does not see the outsider's model.
    assert [row["name"] for row in get(client, "/models", **bearer(contributor)).json()["results"]] == [
        "fraud-scorer"
    ]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("contributor", 201),
        ("superuser", 201),
        ("viewer", 403),
        ("reviewer", 403),
        ("approver", 403),
        ("responder", 403),
        ("policy_admin", 403),
        ("outsider", 404),
    ],
)
def test_only_those_who_may_register_register(client, contract, request, model, role, status):
    user = request.getfixturevalue(role)
    headers = bearer(user)
    before = written()

    response = post_json(client, "/models/fraud-scorer/versions", evidence_payload(), **headers)

    assert response.status_code == status, response.content
    contract.check(response, "/models/{name}/versions", "post")
    after = written()
    if status == 201:
        assert after["ModelVersion"] == before["ModelVersion"] + 1
    else:
        # Refused either way, and on the record; the outsider is told nothing more than "not found".
        assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1
        assert after == before
        refusal = AuditEvent.objects.order_by("-sequence").first()
        assert (refusal.action, refusal.actor, refusal.model_name) == (
            "permission.denied",
            user,
            "fraud-scorer",
        )


def test_the_list_filters(client, contract, in_production, contributor, team):
    post_json(
        client,
        "/models/churn-model/versions",
        evidence_payload(model={"description": "Who leaves."}),
        **bearer(contributor),
    )
    headers = bearer(contributor)

    def names(query: str) -> list[str]:
        return [
            row["name"]
            for row in contract.check(get(client, f"/models{query}", **headers), "/models", "get")["results"]
        ]

    assert names("") == ["churn-model", "fraud-scorer"]
    assert names("?stage=production") == ["fraud-scorer"]
    assert names("?stage=draft") == ["churn-model"]
    assert names("?search=LEAVES") == ["churn-model"]
    assert names("?team=payments") == ["fraud-scorer"]
    assert names("?owner=carol") == ["churn-model", "fraud-scorer"]
    assert names("?owner=nobody") == []


@pytest.mark.parametrize("query", ["?stage=prod", "?page=0", "?page=two", "?page=-1"])
def test_bad_list_parameters_are_400(client, contract, model, viewer, query):
    response = get(client, f"/models{query}", **bearer(viewer))
    assert response.status_code == 400
    fields = contract.check(response, "/models", "get")["error"]["fields"]
    assert set(fields) == {query[1:].split("=")[0]}
