"""The production answer under faults, with real processes: the tier (nginx, gunicorn web and watch servers)
on the test database, a Redis of these tests' own that they stop and pause (running and empty again for
the next test), and PostgreSQL connections that they break.

- Redis stopped or hung: the lookup answers from what PostgreSQL holds, within a second.
- An approval and a rollback made while Redis is unreachable answer success, and from the moment each
  answers, no lookup answers the version it replaced.
- A PostgreSQL restart's worth of broken connections: the next lookup is right, then warm again.
- The database unreachable: a 503 the API documents, with Retry-After, never a guess.
- A token revoked or a permission removed in another process: felt as soon as PostgreSQL delivers the
  change's notification (on a loaded machine, after a request or two), and from then on.
"""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from scripts.webtier import free_port
from tests.api.support import issue_token
from tests.factories import version_move, version_register_for_tests
from tests.promotions.test_promotion_request import FULL_CARD
from warehouse.accounts.services import api_token_revoke
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.models import RequestState
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import Stage
from warehouse.webhooks.services import subscription_create

pytestmark = [pytest.mark.webtier, pytest.mark.postgres]

LOOKUP = "/api/v1/models/fraud-scorer/production"
ANSWER_WITHIN = 1.0  # seconds: the lookup with Redis down, as the issue asks
# A tier whose PostgreSQL cannot be reached: nothing listens on port 1, so connecting is refused at once.
WITHOUT_DATABASE = {
    "env": {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"},
    "workers": 1,
    "threads": 2,
}


class PrivateRedis:
    """A redis-server of these tests' own on a free port, so stopping or pausing it disturbs nothing else."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    def url(self, database: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert time.monotonic() < deadline, "the test's Redis did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def running_and_empty(self) -> None:
        """Back up (continued, or started again on its port) and holding nothing."""
        if self.process.poll() is None:
            self.resume()
        else:
            self.start()
        flushed = subprocess.run(
            ["redis-cli", "-p", str(self.port), "flushall"], capture_output=True, text=True, timeout=10
        )
        assert flushed.stdout.strip() == "OK", flushed


@pytest.fixture(scope="module")
def module_redis():
    server = PrivateRedis()
    yield server
    server.stop()


@pytest.fixture
def redis(module_redis):
    """This module's own Redis, running and empty when each test starts: a test may stop or pause it."""
    module_redis.running_and_empty()
    yield module_redis
    if module_redis.process.poll() is None:
        module_redis.resume()


@pytest.fixture
def tier(shared_web_tier, redis):
    """The tier with its cache and broker on this module's own Redis, shared by its tests."""
    return shared_web_tier(
        env={"REDIS_URL": redis.url(1), "CELERY_BROKER_URL": redis.url(0)},
        workers=2,
        threads=4,
        watch=True,
    )


@dataclass
class Answer:
    started: float
    seconds: float
    status: int
    body: dict
    headers: object  # an http.client.HTTPMessage: names compare without case


def call(
    tier, path: str, *, token: str | None = None, method: str = "GET", body=None, headers=None, base=None
) -> Answer:
    """One request to the tier: through the proxy, or straight to `base` (a server's URL)."""
    request = urllib.request.Request(
        (base or tier.url) + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Host": tier.host,
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **({"Content-Type": "application/json"} if body is not None else {}),
            **(headers or {}),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), error.headers
    seconds = time.monotonic() - started
    try:
        answer_body = json.loads(raw) if raw else {}
    except ValueError:
        answer_body = {"not json": raw.decode(errors="replace")}  # Django's own error pages are HTML
    return Answer(started, seconds, status, answer_body, answer_headers)


class Poller:
    """Serving systems polling the lookup through the proxy, every few milliseconds, all along."""

    def __init__(self, tier, token: str):
        self.tier, self.token = tier, token
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.answers.append(call(self.tier, LOOKUP, token=self.token))
            time.sleep(0.005)

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.answers


def answered_version(answer: Answer) -> int | None:
    return answer.body.get("version") if answer.status == 200 else None


@pytest.fixture
def awaiting_approval(model, version, contributor, approver, responder, superuser, viewer):
    """v1 in production; v2 in Staging with a request to Production whose gate passed: one approval from
    an approver promotes it. A webhook subscription, so every change tries to publish to the broker."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    candidate = version_register_for_tests(actor=contributor, model=model, card=FULL_CARD)
    version_move(candidate, Stage.STAGING, actor=contributor)
    promotion = promotion_request_open(
        actor=contributor, version=candidate, target_stage=Stage.PRODUCTION, justification="Better recall."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    promotion.refresh_from_db()
    assert promotion.state == RequestState.AWAITING_SIGNOFF
    subscription_create(
        actor=superuser,
        model=None,
        url="https://hooks.example.com/warehouse",
        events=["version.stage_changed"],
    )
    return {
        "promotion": promotion,
        "approver": issue_token(approver).secret,
        "responder": issue_token(responder).secret,
        "poller": issue_token(viewer).secret,
    }


# --- Redis down: the lookup answers from PostgreSQL -----------------------------------------------------


@pytest.mark.parametrize("fault", ["stopped", "paused"])
def test_with_redis_down_the_lookup_answers_within_a_second(tier, redis, model, version, contributor, fault):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    warm_token, cold_token = issue_token(contributor).secret, issue_token(contributor).secret
    etag = call(tier, LOOKUP, token=warm_token).headers["ETag"]

    redis.stop() if fault == "stopped" else redis.pause()
    try:
        answers = [
            call(tier, LOOKUP, token=cold_token),  # a token no process has seen: read from PostgreSQL
            *(call(tier, LOOKUP, token=warm_token) for _ in range(20)),
            call(tier, LOOKUP + "?wait=1", token=warm_token, headers={"If-None-Match": etag}),
        ]
    finally:
        if fault == "paused":
            redis.resume()

    assert [answer.status for answer in answers] == [200] * 21 + [304]
    assert {answer.body.get("id") for answer in answers[:-1]} == {"fraud-scorer/v1"}
    assert max(answer.seconds for answer in answers[:-1]) < ANSWER_WITHIN
    assert answers[-1].seconds < 1 + ANSWER_WITHIN  # the wait itself, then the answer


@pytest.mark.parametrize("fault", ["stopped", "paused"])
def test_an_approval_and_a_rollback_with_redis_down_succeed_and_the_lookup_follows_them(
    tier, redis, awaiting_approval, fault
):
    promotion = awaiting_approval["promotion"]
    assert answered_version(call(tier, LOOKUP, token=awaiting_approval["poller"])) == 1
    poller = Poller(tier, awaiting_approval["poller"])
    time.sleep(0.2)

    redis.stop() if fault == "stopped" else redis.pause()
    try:
        approval = call(
            tier,
            f"/api/v1/models/fraud-scorer/promotions/{promotion.pk}/signoffs",
            token=awaiting_approval["approver"],
            method="POST",
            body={"decision": "approve", "comment": "Slices hold.", "gate_run": promotion.gate_run_id},
        )
        approved_at = approval.started + approval.seconds
        time.sleep(0.3)
        rollback = call(
            tier,
            "/api/v1/models/fraud-scorer/rollback",
            token=awaiting_approval["responder"],
            method="POST",
            body={"expected_current": 2, "reason": "INC-7: error rate doubled"},
        )
        rolled_back_at = rollback.started + rollback.seconds
        time.sleep(0.3)
    finally:
        answers = poller.stop()
        if fault == "paused":
            redis.resume()

    assert approval.status == 201, approval.body
    assert approval.body["promotion_request"]["state"] == "approved"
    assert rollback.status == 200, rollback.body
    assert rollback.body["production"]["id"] == "fraud-scorer/v1"
    assert all(answer.status == 200 for answer in answers), {a.status for a in answers}
    # Once a change has answered its caller, no lookup asked after that answers what it replaced.
    after_approval = [
        a for a in answers if approved_at < a.started and a.started + a.seconds < rollback.started
    ]
    after_rollback = [a for a in answers if a.started > rolled_back_at]
    assert after_approval and {answered_version(a) for a in after_approval} == {2}
    assert after_rollback and {answered_version(a) for a in after_rollback} == {1}
    assert max(a.seconds for a in answers) < ANSWER_WITHIN


# --- PostgreSQL connections broken, PostgreSQL unreachable -----------------------------------------------


def test_with_every_database_connection_broken_the_next_lookup_is_right(tier, model, version, contributor):
    """As a PostgreSQL restart does to them: every connection of the tier (the pools' and the change feeds')
    is terminated, and a promotion commits before any of them is back."""
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    token = issue_token(contributor).secret
    for _ in range(10):
        assert answered_version(call(tier, LOOKUP, token=token)) == 1

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    version_move(second, Stage.PRODUCTION, actor=contributor)

    assert terminated >= 2  # at least the web server's pool and its change feed
    answers = [call(tier, LOOKUP, token=token) for _ in range(20)]
    assert [answered_version(answer) for answer in answers] == [2] * 20
    # Still serving writes too: the pools replaced their connections.
    rollback = call(
        tier,
        "/api/v1/models/fraud-scorer/rollback",
        token=issue_token(contributor).secret,
        method="POST",
        body={"expected_current": 2, "reason": "after the restart"},
    )
    assert rollback.status in (200, 403)  # the contributor may not roll back: answered, not a 5xx


def test_with_the_database_unreachable_it_answers_503_with_retry_after(shared_web_tier, contract):
    tier = shared_web_tier(**WITHOUT_DATABASE)

    lookup = call(tier, LOOKUP, token="wh_0123abcd_" + "x" * 43)
    ready = call(tier, "/health/ready")
    live = call(tier, "/health/live")

    assert lookup.status == 503
    assert lookup.body["error"]["code"] == "database_unavailable"
    assert lookup.headers["Retry-After"] == "5"
    assert lookup.seconds < 10  # the pool's timeout (3 s), not a hang
    schema = "/paths/~1models~1{name}~1production/get/responses/503/content/application~1json/schema"
    assert contract.errors(schema, lookup.body) == []
    assert (ready.status, ready.body["database"]) == (503, "unreachable")
    assert live.status == 200


# --- Access changed in another process: felt once its notification is delivered -----------------------------


def first_answer_after(tier, token: str, wanted: int, *, within: float = 2.0) -> float:
    """Seconds until the lookup first answers `wanted` after a change committed by another process (this
    one): PostgreSQL delivers the change's notification to the tier's listeners as each is scheduled, which
    on a loaded 2-core machine can take longer than one request (warehouse/changes.py)."""
    started = time.monotonic()
    while call(tier, LOOKUP, token=token).status != wanted:
        assert time.monotonic() - started < within, f"still not {wanted} after {within} s"
    return time.monotonic() - started


def test_a_token_revoked_elsewhere_is_refused_within_a_moment_and_from_then_on(tier, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    issued = issue_token(contributor)
    for _ in range(10):  # every worker process remembers it
        assert call(tier, LOOKUP, token=issued.secret).status == 200

    api_token_revoke(actor=contributor, token=issued.token)

    first_answer_after(tier, issued.secret, 401)
    assert [call(tier, LOOKUP, token=issued.secret).status for _ in range(10)] == [401] * 10


def test_a_permission_removed_elsewhere_hides_the_model_within_a_moment_and_from_then_on(
    tier, version, contributor, viewer, team
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    token = issue_token(viewer).secret
    for _ in range(10):
        assert call(tier, LOOKUP, token=token).status == 200

    viewer.groups.remove(Group.objects.get(pk=team.pk))

    first_answer_after(tier, token, 404)
    answers = [call(tier, LOOKUP, token=token) for _ in range(10)]
    assert {(answer.status, answer.body["error"]["code"]) for answer in answers} == {(404, "not_found")}
