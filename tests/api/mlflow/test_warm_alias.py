"""`models:/<name>@production` on a warm path: the production alias answers with one query (the production
version, read from its stage in the database) while the change feed vouches for who asks and what they may
see, exactly as the ordinary way answers it; a revoked token, a lost permission, a new production version
or a tag set are all felt on the next request."""

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import remove_perm

from tests.api.support import issue_token
from tests.factories import version_move, version_register_for_tests
from warehouse.accounts.services import api_token_revoke
from warehouse.api.mlflow.services import version_tag_set
from warehouse.changes import heard_before_answering
from warehouse.registry.models import Stage

ALIAS = "/api/2.0/mlflow/registered-models/alias"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def alias_of(client, secret: str, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            ALIAS,
            {"name": "fraud-scorer", "alias": "production"},
            HTTP_AUTHORIZATION=f"Bearer {secret}",
            **extra,
        )
    return response, len(queries)


def ordinary_way(client, user, secret: str) -> dict:
    """The same question through Basic credentials, which the warm path leaves to the ordinary way."""
    basic = base64.b64encode(f"{user.username}:{secret}".encode()).decode()
    response = client.get(
        ALIAS, {"name": "fraud-scorer", "alias": "production"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def in_production(model, contributor, superuser):
    v1 = model.versions.get(number=1)
    version_move(v1, Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    version_tag_set(actor=superuser, version=v1, key="owner", value="risk")
    return v1


def test_a_warm_alias_lookup_runs_one_query_and_answers_as_the_ordinary_way(client, in_production, viewer):
    secret = issue_token(viewer).secret
    alias_of(client, secret)  # the token, the answer and who may see it, read and remembered
    heard_before_answering()  # the token's first use, marked on it, is news to the feed too
    alias_of(client, secret)

    warm, queries = alias_of(client, secret)

    assert (warm.status_code, queries) == (200, 1)
    assert warm.json() == ordinary_way(client, viewer, secret)
    version = warm.json()["model_version"]
    assert (version["version"], version["current_stage"], version["aliases"]) == (
        "1",
        "Production",
        ["production"],
    )
    assert version["tags"] == [{"key": "owner", "value": "risk"}]


def test_a_new_production_version_and_a_new_tag_are_answered_on_the_next_request(
    client, model, in_production, contributor, superuser, viewer
):
    secret = issue_token(viewer).secret
    alias_of(client, secret)
    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    version_tag_set(actor=superuser, version=replacement, key="owner", value="fraud-team")

    answered = alias_of(client, secret)[0].json()["model_version"]

    assert (answered["version"], answered["tags"]) == ("2", [{"key": "owner", "value": "fraud-team"}])


def test_a_revoked_token_is_refused_on_the_next_request(client, in_production, viewer):
    issued = issue_token(viewer)
    assert alias_of(client, issued.secret)[0].status_code == 200
    api_token_revoke(actor=viewer, token=issued.token)

    refused = alias_of(client, issued.secret)[0]

    assert (refused.status_code, refused.json()["error_code"]) == (401, "UNAUTHENTICATED")


def test_a_lost_permission_hides_the_model_on_the_next_request(client, model, in_production, viewer):
    secret = issue_token(viewer).secret
    assert alias_of(client, secret)[0].status_code == 200
    assert alias_of(client, secret)[1] == 1
    viewer.groups.clear()
    remove_perm("registry.view_registeredmodel", viewer, model)
    heard_before_answering()

    hidden = alias_of(client, secret)[0]

    assert (hidden.status_code, json.loads(hidden.content)["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_nothing_in_production_goes_the_ordinary_way(client, model, viewer):
    response = alias_of(client, issue_token(viewer).secret)[0]
    assert (response.status_code, response.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
