"""`Idempotency-Key` on the API's writes (DESIGN invariant 11): a retry with the same key and request gets the
first answer and acts no second time; the same key with another request is 409 `idempotency_key_reused`.
On the real database; the race runs real threads against PostgreSQL."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.api.support import API, bearer, error_fields, get, locked_out, post_json, written
from tests.factories import evidence_payload, user_with_roles, version_move, version_register_for_tests
from tests.registry.test_concurrency import assert_chain_verifies
from warehouse import clock
from warehouse.accounts.roles import Role
from warehouse.api.idempotency import HEADER, KEY
from warehouse.api.models import IdempotencyKey
from warehouse.api.services import idempotency_keys_purge
from warehouse.api.tasks import idempotency_keys_purge_task
from warehouse.audit.models import AuditEvent
from warehouse.audit.services import AUDIT_CHAIN_LOCK_KEY
from warehouse.cards.models import CardRevision
from warehouse.celery import app as celery_app
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import GateRun, PromotionRequest, SignOff
from warehouse.promotions.policies.services import policy_in_force
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import ModelVersion, Stage, StageTransition, TransitionKind

VERSIONS = "/models/fraud-scorer/versions"
TO_STAGING = {"target_stage": "staging", "justification": "Better recall on new merchants."}


def keyed(headers: dict, key: str = "ci-run-4711") -> dict:
    return {**headers, "HTTP_IDEMPOTENCY_KEY": key}


def assert_replayed(first, again) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert again.get("Location") == first.get("Location")
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")


def acts_once(send, counted) -> tuple:
    """Send the same keyed request twice: the second changes no count of `counted` (nor the audit trail)."""
    first = send()
    assert 200 <= first.status_code < 300, first.content
    before = {model.__name__: model.objects.count() for model in (*counted, AuditEvent)}

    again = send()

    assert_replayed(first, again)
    assert {model.__name__: model.objects.count() for model in (*counted, AuditEvent)} == before
    return first, again


@pytest.fixture
def draft(model, contributor):
    """fraud-scorer v2, a draft whose gate for Staging passes."""
    policy_in_force(model=model)
    return version_register_for_tests(actor=contributor, model=model)


# --- Registration -----------------------------------------------------------------------------------------


def test_a_retried_registration_registers_once_and_gets_the_first_answer(
    client, contract, model, contributor
):
    headers = keyed(bearer(contributor))
    first = post_json(client, VERSIONS, evidence_payload(), **headers)
    before = written()

    again = post_json(client, VERSIONS, evidence_payload(), **headers)

    assert first.status_code == 201, first.content
    assert_replayed(first, again)
    contract.check(again, "/models/{name}/versions", "post")
    # Nothing written, and nothing audited: a replay changes nothing.
    assert written() == before
    assert ModelVersion.objects.filter(model=model).count() == 2
    assert again["Location"].endswith("/api/v1/models/fraud-scorer/versions/2")


def test_the_same_json_with_other_key_order_and_spacing_is_the_same_request(client, model, contributor):
    headers = keyed(bearer(contributor))
    body = evidence_payload()
    first = post_json(client, VERSIONS, body, **headers)

    reordered = "{\n" + ",\n".join(f'  "{key}": {json.dumps(body[key], indent=4)}' for key in reversed(body))
    reordered += "\n}"
    again = post_json(client, VERSIONS, reordered, **headers)

    assert_replayed(first, again)
    assert ModelVersion.objects.filter(model=model).count() == 2


def test_the_same_key_with_another_body_is_409_and_only_the_refusal_is_written(
    client, contract, model, contributor
):
    headers = keyed(bearer(contributor), "nightly-2026-12-03")
    post_json(client, VERSIONS, evidence_payload(), **headers)
    before = written()

    response = post_json(client, VERSIONS, evidence_payload(description="Another run."), **headers)

    assert response.status_code == 409
    error = contract.check(response, "/models/{name}/versions", "post")["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "POST /api/v1/models/fraud-scorer/versions" in error["message"]
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}
    event = AuditEvent.objects.order_by("-sequence").first()
    assert (event.action, event.actor, event.via[:10]) == (
        "idempotency_key.reused",
        contributor,
        "api-token:",
    )
    assert event.data == {
        "key": "nightly-2026-12-03",
        "method": "POST",
        "path": "/api/v1/models/fraud-scorer/versions",
        "first_method": "POST",
        "first_path": "/api/v1/models/fraud-scorer/versions",
    }
    assert not response.has_header("Idempotent-Replayed")


def test_the_same_key_on_another_path_is_409(client, contract, model, version, contributor):
    headers = keyed(bearer(contributor))
    assert post_json(client, VERSIONS, evidence_payload(), **headers).status_code == 201

    response = post_json(client, f"{VERSIONS}/1/promotions", TO_STAGING, **headers)

    assert response.status_code == 409
    error = contract.check(response, "/models/{name}/versions/{number}/promotions", "post")["error"]
    assert error["code"] == "idempotency_key_reused"
    assert PromotionRequest.objects.count() == 0


def test_keys_are_per_caller(client, model, contributor, team):
    other = user_with_roles("dora", Role.CONTRIBUTOR, teams=(team,))

    mine = post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(contributor)))
    theirs = post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(other)))

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert not theirs.has_header("Idempotent-Replayed")
    assert ModelVersion.objects.filter(model=model).count() == 3


def test_the_same_caller_with_another_token_is_the_same_caller(client, model, contributor):
    first = post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(contributor)))

    again = post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(contributor)))

    assert_replayed(first, again)


def test_a_refused_first_attempt_frees_the_key_for_a_corrected_retry(client, model, contributor):
    headers = keyed(bearer(contributor))
    refused = post_json(client, VERSIONS, evidence_payload(artifacts=[]), **headers)
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()

    corrected = post_json(client, VERSIONS, evidence_payload(), **headers)

    assert corrected.status_code == 201, corrected.content
    assert not corrected.has_header("Idempotent-Replayed")
    assert ModelVersion.objects.filter(model=model).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_refusal_under_a_key_commits_its_audit_event(client, model, version, viewer):
    # A viewer may not register: the 403, its audit event committed, and no key kept.
    response = post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(viewer)))

    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).count() == 1
    assert not IdempotencyKey.objects.exists()


# --- The other writes: each replays without acting twice --------------------------------------------------


def test_a_retried_promotion_request_opens_one_request_and_queues_its_gate_once(
    client, contract, draft, contributor, django_capture_on_commit_callbacks
):
    path = f"{VERSIONS}/2/promotions"
    headers = keyed(bearer(contributor))

    with django_capture_on_commit_callbacks() as callbacks:
        first, again = acts_once(
            lambda: post_json(client, path, TO_STAGING, **headers), [PromotionRequest, GateRun]
        )

    assert first.status_code == 201
    contract.check(again, "/models/{name}/versions/{number}/promotions", "post")
    assert PromotionRequest.objects.count() == GateRun.objects.count() == 1
    # The gate is queued after the commit of the first request only; the replay queues nothing.
    publish = [callback for callback in callbacks if "gate_run_publish" in callback.__code__.co_names]
    assert len(publish) == 1
    assert GateRun.objects.get().enqueued_at is None


def test_a_retried_sign_off_signs_once(client, contract, draft, contributor, reviewer):
    promotion = promotion_request_open(
        actor=contributor, version=draft, target_stage="staging", justification="Better recall."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    path = f"/models/fraud-scorer/promotions/{promotion.pk}/signoffs"
    headers = keyed(bearer(reviewer))
    body = {"decision": "approve", "comment": "Slices look fine."}

    first, again = acts_once(lambda: post_json(client, path, body, **headers), [SignOff, StageTransition])

    assert first.status_code == 201
    contract.check(again, "/models/{name}/promotions/{promotion_id}/signoffs", "post")
    assert SignOff.objects.count() == 1
    draft.refresh_from_db()
    assert draft.stage == Stage.STAGING
    # Without the key, the same sign-off is a second attempt, refused by the closed request.
    assert post_json(client, path, body, **bearer(reviewer)).status_code == 409


def test_a_retried_cancel_answers_the_cancelled_request(client, contract, draft, contributor):
    promotion = promotion_request_open(
        actor=contributor, version=draft, target_stage="staging", justification="Better recall."
    )
    path = f"/models/fraud-scorer/promotions/{promotion.pk}/cancel"
    headers = keyed(bearer(contributor))

    first, again = acts_once(
        lambda: post_json(client, path, {"reason": "Wrong data."}, **headers), [PromotionRequest]
    )

    assert first.json()["state"] == "cancelled"
    contract.check(again, "/models/{name}/promotions/{promotion_id}/cancel", "post")
    assert AuditEvent.objects.filter(action="promotion.cancelled").count() == 1


def test_a_retried_archive_archives_once(client, contract, model, version, contributor):
    path = f"{VERSIONS}/1/archive"
    headers = keyed(bearer(contributor))

    first, again = acts_once(
        lambda: post_json(client, path, {"reason": "Superseded by v2."}, **headers), [StageTransition]
    )

    assert first.json()["stage"] == "archived"
    contract.check(again, "/models/{name}/versions/{number}/archive", "post")
    assert StageTransition.objects.filter(version=version, to_stage=Stage.ARCHIVED).count() == 1


def test_a_retried_rollback_rolls_back_once(
    client, contract, model, version, contributor, responder, superuser
):
    from tests.incidents.test_rollback import incident_about

    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    version_move(
        version_register_for_tests(actor=contributor, model=model),
        Stage.STAGING,
        Stage.PRODUCTION,
        actor=contributor,
    )
    firing = incident_about(model, superuser)
    headers = keyed(bearer(responder), "INC-42")
    body = {"expected_current": 2, "reason": "INC-42: p99 doubled"}

    first, again = acts_once(
        lambda: post_json(client, "/models/fraud-scorer/rollback", body, **headers), [StageTransition]
    )

    assert first.json()["production"]["id"] == "fraud-scorer/v1"
    contract.check(again, "/models/{name}/rollback", "post")
    assert StageTransition.objects.filter(model=model, kind=TransitionKind.ROLLBACK).count() == 1
    assert AuditEvent.objects.filter(action="incident.rolled_back").count() == 1
    # The replayed answer names the incident it mitigated, which was mitigated once.
    assert again.json()["mitigated"] == first.json()["mitigated"] == [firing.pk]
    assert AuditEvent.objects.filter(action="incident.mitigated").count() == 1


def test_a_retried_card_revision_revises_once(client, contract, version, contributor):
    path = f"{API}{VERSIONS}/1/card"
    headers = keyed(bearer(contributor))
    card = {"sections": {"task": "Scores card payments before authorisation."}, "summary": "Task."}

    _, again = acts_once(
        lambda: client.put(path, card, content_type="application/json", **headers), [CardRevision]
    )

    contract.check(again, "/models/{name}/versions/{number}/card", "put")


def test_a_retried_gate_run_request_starts_one_run(client, contract, version, contributor):
    path = f"{VERSIONS}/1/gate-runs"
    headers = keyed(bearer(contributor))

    first, again = acts_once(
        lambda: post_json(client, path, {"target_stage": "staging"}, **headers), [GateRun]
    )

    assert first.status_code == 202
    contract.check(again, "/models/{name}/versions/{number}/gate-runs", "post")
    assert GateRun.objects.count() == 1


# --- The key itself ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "clé-1", "tab\there"], ids=["empty", "too-long", "non-ascii", "tab"]
)
def test_a_bad_key_is_400_naming_the_header_and_nothing_is_done(client, contract, model, contributor, key):
    headers = keyed(bearer(contributor), key)
    before = written()

    response = post_json(client, VERSIONS, evidence_payload(), **headers)

    assert response.status_code == 400
    contract.check(response, "/models/{name}/versions", "post")
    assert list(error_fields(response)) == [HEADER]
    assert written() == before and not IdempotencyKey.objects.exists()


def test_a_key_of_255_printable_characters_is_a_key(client, model, contributor):
    key = (" ".join(chr(code) for code in range(33, 127)) * 2)[:255]

    response = post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(contributor), key))

    assert response.status_code == 201, response.content
    assert IdempotencyKey.objects.get().key == key


def test_without_credentials_a_key_changes_nothing(client, model):
    response = post_json(client, VERSIONS, evidence_payload(), **keyed({}, "not a key\x7f"))

    assert response.status_code == 401
    assert not IdempotencyKey.objects.exists()


def test_a_wrong_token_with_a_key_is_refused_and_counted_once(client, model):
    wrong = {"HTTP_AUTHORIZATION": "Bearer wh_0badc0de_wrong"}

    response = post_json(client, VERSIONS, evidence_payload(), **keyed(wrong))

    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="api_token.refused").count() == 1
    assert not IdempotencyKey.objects.exists()


def test_a_key_from_an_address_locked_out_is_429_and_nothing_is_done(client, model, contributor):
    headers = locked_out(client, contributor)
    before = written()

    response = post_json(client, VERSIONS, evidence_payload(), **keyed(headers))

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
    assert written() == before and not IdempotencyKey.objects.exists()


def test_reads_ignore_the_header(client, model, contributor):
    assert get(client, "/models", **keyed(bearer(contributor))).status_code == 200
    assert not IdempotencyKey.objects.exists()


# --- Retention ----------------------------------------------------------------------------------------------


def _aged(hours: float) -> None:
    IdempotencyKey.objects.update(created_at=clock.now() - timedelta(hours=hours))


def test_a_key_past_its_retention_acts_anew(client, model, contributor):
    headers = keyed(bearer(contributor))
    post_json(client, VERSIONS, evidence_payload(), **headers)
    _aged(settings.IDEMPOTENCY_KEY_HOURS + 0.1)

    again = post_json(client, VERSIONS, evidence_payload(), **headers)

    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert ModelVersion.objects.filter(model=model).count() == 3
    assert IdempotencyKey.objects.get().path == "/api/v1/models/fraud-scorer/versions"


def test_a_key_is_kept_as_long_as_configured(client, model, contributor, settings):
    settings.IDEMPOTENCY_KEY_HOURS = 48
    headers = keyed(bearer(contributor))
    first = post_json(client, VERSIONS, evidence_payload(), **headers)
    _aged(47)

    assert_replayed(first, post_json(client, VERSIONS, evidence_payload(), **headers))


@pytest.mark.parametrize(("configured", "kept"), [("1", 24), ("", 24), ("72", 72)])
def test_the_retention_is_never_under_24_hours(configured, kept):
    environment = {**os.environ, "DEBUG": "1", "IDEMPOTENCY_KEY_HOURS": configured}
    read = "from django.conf import settings; print(settings.IDEMPOTENCY_KEY_HOURS)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {read}"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "warehouse.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == str(kept), result.stderr


def test_the_sweeper_purges_keys_past_their_retention(client, model, contributor):
    post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(contributor), "old"))
    _aged(settings.IDEMPOTENCY_KEY_HOURS + 1)
    post_json(client, VERSIONS, evidence_payload(), **keyed(bearer(contributor), "new"))

    assert idempotency_keys_purge_task() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert idempotency_keys_purge() == 0


def test_the_sweep_is_scheduled_on_the_sweeps_queue():
    entry = next(
        item
        for item in settings.CELERY_BEAT_SCHEDULE.values()
        if item["task"] == "api.idempotency_keys_purge"
    )
    assert entry["options"]["queue"] == "sweeps"
    assert settings.CELERY_TASK_ROUTES["api.idempotency_keys_purge"] == {"queue": "sweeps"}
    # The name beat sends is one a worker knows (it finds tasks the way a worker does).
    celery_app.loader.import_default_modules()
    assert celery_app.tasks["api.idempotency_keys_purge"].run is idempotency_keys_purge_task.run


# --- The document -----------------------------------------------------------------------------------------


def test_every_post_and_put_documents_the_header_and_the_409(contract):
    writes = 0
    for path, item in contract.document["paths"].items():
        for method, operation in item.items():
            headers = [
                p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == HEADER
            ]
            if method in ("post", "put"):
                writes += 1
                assert len(headers) == 1 and headers[0]["required"] is False, (method, path)
                assert headers[0]["schema"]["pattern"] == f"^{KEY.pattern}$"
                assert "409" in operation["responses"], (method, path)
            else:
                assert headers == [], (method, path)
    assert writes == 13


# --- Cost ---------------------------------------------------------------------------------------------------


def _queries(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return response, [query["sql"] for query in captured.captured_queries]


def test_a_request_without_the_header_never_asks_for_a_key(client, model, contributor):
    headers = bearer(contributor)
    get(client, "/models", **headers)  # the token's first use records it (one UPDATE a minute)

    response, queries = _queries(lambda: post_json(client, VERSIONS, evidence_payload(), **headers))

    assert response.status_code == 201
    assert not [sql for sql in queries if "api_idempotencykey" in sql]


def test_a_key_costs_a_few_queries_and_a_replay_fewer(client, model, contributor):
    headers = bearer(contributor)
    get(client, "/models", **headers)
    _, plain = _queries(lambda: post_json(client, VERSIONS, evidence_payload(), **headers))

    _, first = _queries(lambda: post_json(client, VERSIONS, evidence_payload(), **keyed(headers)))
    _, replay = _queries(lambda: post_json(client, VERSIONS, evidence_payload(), **keyed(headers)))

    # The request's transaction, the expired key cleared, the key read and taken (in a savepoint), and its
    # answer kept. The token is read once: the caller found for the key is the one ninja is given.
    assert len(first) <= len(plain) + 8, first
    # The token, the transaction, the expired key cleared, the key read: no view runs.
    assert len(replay) <= 5, replay


# --- Simultaneous retries (PostgreSQL) ----------------------------------------------------------------------

RACERS = 4


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_with_one_key_register_once_and_all_get_its_answer(model, contributor):
    headers = keyed(bearer(contributor))
    body = evidence_payload()
    results: list[object] = [None] * RACERS

    def send(index: int) -> None:
        try:
            results[index] = post_json(Client(), VERSIONS, body, **headers)
        except BaseException as error:  # noqa: B036 - the test inspects whatever happened
            results[index] = error
        finally:
            connections.close_all()  # this thread's own connection

    # Hold the audit chain: the request that takes the key waits for it inside its transaction, so every
    # other request meets the key before the first commits, and waits on its unique index.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [AUDIT_CHAIN_LOCK_KEY])
    threads = [threading.Thread(target=send, args=(index,)) for index in range(RACERS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _waiting_on_locks() < RACERS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_locks() == RACERS, "the requests did not meet"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [AUDIT_CHAIN_LOCK_KEY])
        for thread in threads:
            thread.join(timeout=60)

    assert not any(isinstance(result, BaseException) for result in results), results
    assert [result.status_code for result in results] == [201] * RACERS
    assert len({result.content for result in results}) == 1
    assert sum(not result.has_header("Idempotent-Replayed") for result in results) == 1
    assert ModelVersion.objects.filter(model=model).count() == 2
    assert IdempotencyKey.objects.count() == 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_keyed_promotion_request_queues_its_gate_after_the_commit(draft, contributor):
    from tests.promotions.conftest import queues_purge

    try:
        response = post_json(Client(), f"{VERSIONS}/2/promotions", TO_STAGING, **keyed(bearer(contributor)))
        assert response.status_code == 201, response.content
        assert GateRun.objects.get().enqueued_at is not None
    finally:
        queues_purge()
