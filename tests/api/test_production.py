"""GET /api/v1/models/<name>/production: the serving systems' hot path. Cached, and never stale after a
stage change commits."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.support import bearer, get, issue_token
from tests.factories import version_move, version_register_for_tests
from warehouse.registry.models import Stage
from warehouse.registry.services import version_transition

PRODUCTION = "/models/{name}/production"


def _lookup(client, headers):
    with CaptureQueriesContext(connection) as queries:
        response = get(client, "/models/fraud-scorer/production", **headers)
    return response, len(queries)


def test_nothing_in_production_is_404_no_production_version(client, contract, version, viewer):
    response = get(client, "/models/fraud-scorer/production", **bearer(viewer))

    assert response.status_code == 404
    assert contract.check(response, PRODUCTION, "get")["error"]["code"] == "no_production_version"


def test_it_answers_the_production_version_with_artifacts_digests_and_rollback_target(
    client, contract, model, version, contributor, django_capture_on_commit_callbacks
):
    headers = bearer(contributor)
    with django_capture_on_commit_callbacks(execute=True):
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    first = contract.check(get(client, "/models/fraud-scorer/production", **headers), PRODUCTION, "get")

    assert (first["id"], first["version"], first["uuid"], first["stage"]) == (
        "fraud-scorer/v1",
        1,
        str(version.uuid),
        "production",
    )
    assert first["rollback_target"] is None
    assert {a["name"]: (a["uri"], a["sha256"], a["size_bytes"]) for a in first["artifacts"]} == {
        "model.onnx": ("s3://models/fraud/model.onnx", "ab" * 32, 123456),
        "config.json": ("s3://models/fraud/config.json", "cd" * 32, 512),
    }

    replacement = version_register_for_tests(
        actor=contributor,
        model=model,
        artifacts=[
            {
                "name": "model.onnx",
                "kind": "weights",
                "uri": "s3://models/fraud/v2/model.onnx",
                "sha256": "ef" * 32,
                "size_bytes": 99,
            }
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    second = contract.check(get(client, "/models/fraud-scorer/production", **headers), PRODUCTION, "get")

    assert second["id"] == "fraud-scorer/v2"
    assert second["rollback_target"] == "fraud-scorer/v1"
    assert [(a["uri"], a["sha256"]) for a in second["artifacts"]] == [
        ("s3://models/fraud/v2/model.onnx", "ef" * 32)
    ]


def test_the_second_lookup_is_served_from_the_cache(
    client, version, contributor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    headers = bearer(contributor)
    get(client, "/models/fraud-scorer", **headers)  # the token's last use is recorded on its first call

    cold, cold_queries = _lookup(client, headers)
    warm, warm_queries = _lookup(client, headers)

    assert cold.status_code == warm.status_code == 200
    assert warm.json() == cold.json()
    assert warm_queries < cold_queries, (cold_queries, warm_queries)


def test_the_cache_is_forgotten_when_the_stage_change_commits_not_before(
    client, model, version, contributor, django_capture_on_commit_callbacks
):
    headers = bearer(contributor)
    with django_capture_on_commit_callbacks(execute=True):
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert get(client, "/models/fraud-scorer/production", **headers).json()["id"] == "fraud-scorer/v1"
    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, actor=contributor)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version_move(replacement, Stage.PRODUCTION, actor=contributor)
        # Until the change commits, the cached answer stands (and is served, not recomputed).
        assert get(client, "/models/fraud-scorer/production", **headers).json()["id"] == "fraud-scorer/v1"
    assert callbacks
    for callback in callbacks:
        callback()

    assert get(client, "/models/fraud-scorer/production", **headers).json()["id"] == "fraud-scorer/v2"


def test_archiving_the_production_version_answers_404_at_once(
    client, contract, version, contributor, django_capture_on_commit_callbacks
):
    headers = bearer(contributor)
    with django_capture_on_commit_callbacks(execute=True):
        version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert get(client, "/models/fraud-scorer/production", **headers).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        version_move(version, Stage.ARCHIVED, actor=contributor)

    response = get(client, "/models/fraud-scorer/production", **headers)
    assert response.status_code == 404
    assert contract.check(response, PRODUCTION, "get")["error"]["code"] == "no_production_version"


@pytest.mark.django_db(transaction=True)
def test_after_real_commits_it_answers_the_new_version_immediately(
    client, contract, model, version, contributor
):
    """No test transaction here: each stage change really commits, and its on-commit hook really runs."""
    headers = bearer(issue_token(contributor))
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert get(client, "/models/fraud-scorer/production", **headers).json()["id"] == "fraud-scorer/v1"

    replacement = version_register_for_tests(actor=contributor, model=model)
    version_move(replacement, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    promoted = contract.check(get(client, "/models/fraud-scorer/production", **headers), PRODUCTION, "get")
    assert (promoted["id"], promoted["rollback_target"]) == ("fraud-scorer/v2", "fraud-scorer/v1")

    version.refresh_from_db()
    version_transition(
        version=version, to_stage=Stage.PRODUCTION, actor=contributor, reason="test: roll back"
    )
    rolled_back = contract.check(get(client, "/models/fraud-scorer/production", **headers), PRODUCTION, "get")
    assert rolled_back["id"] == "fraud-scorer/v1"
