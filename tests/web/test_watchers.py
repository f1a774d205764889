"""Watchers on the watch server: `?wait=` through nginx reaches the ASGI handler (warehouse/api/watch.py),
where many wait at once without a thread each and all hear of a change as it commits."""

import asyncio
import json
import time

import pytest
from django.core.management import call_command

from scripts.webtier import watch
from tests.api.support import issue_token
from tests.factories import version_move, version_register_for_tests
from tests.web.test_serving_faults import LOOKUP, call
from tests.web.test_slow_clients import TIER
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import Stage

pytestmark = [pytest.mark.webtier]

WATCHERS = 40


def _watchers_after(tier, token: str, etag: str | None, change, *, wait: int = 20) -> tuple[list, float]:
    """Start WATCHERS watchers through the proxy, make `change` once they wait, and collect their answers
    with the moment the change committed."""

    async def run():
        path = f"{LOOKUP}?wait={wait}"
        tasks = [
            asyncio.create_task(watch(tier.url, host=tier.host, path=path, token=token, etag=etag))
            for _ in range(WATCHERS)
        ]
        await asyncio.sleep(1.0)
        assert not any(task.done() for task in tasks), "a watcher was answered before anything changed"
        committed = await asyncio.to_thread(change)
        answers = await asyncio.gather(*tasks)
        return [(at, status, json.loads(body) if body else {}) for at, status, body in answers], committed

    return asyncio.run(run())


@pytest.mark.postgres
def test_every_waiting_watcher_hears_of_a_promotion_as_it_commits(
    shared_web_tier, model, version, contributor
):
    tier = shared_web_tier(**TIER)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(second, Stage.STAGING, actor=contributor)
    token = issue_token(contributor).secret
    etag = call(tier, LOOKUP, token=token).headers["ETag"]

    def promote() -> float:
        version_move(second, Stage.PRODUCTION, actor=contributor)
        return time.monotonic()

    answers, committed = _watchers_after(tier, token, etag, promote)

    assert {(status, body["id"]) for _, status, body in answers} == {(200, "fraud-scorer/v2")}
    assert max(answered_at for answered_at, _, _ in answers) - committed < 1.0
    # They waited on the watch server, not the web server: the proxy's log says where each went.
    watch_address = tier.watch.address
    waits = [line for line in tier.access_log() if "wait=20" in line]
    assert len(waits) == WATCHERS and all(line.endswith(watch_address) for line in waits)


def test_a_watcher_waiting_for_a_first_production_version_gets_it(
    shared_web_tier, model, version, contributor
):
    """Also on SQLite, where the watch server has no change feed and looks again every second."""
    tier = shared_web_tier(**TIER)
    version_move(version, Stage.STAGING, actor=contributor)
    token = issue_token(contributor).secret
    assert call(tier, LOOKUP, token=token).status == 404

    def promote() -> float:
        version_move(version, Stage.PRODUCTION, actor=contributor)
        return time.monotonic()

    answers, committed = _watchers_after(tier, token, None, promote)

    assert {(status, body["id"]) for _, status, body in answers} == {(200, "fraud-scorer/v1")}
    assert max(answered_at for answered_at, _, _ in answers) - committed < 2.5


def test_the_watch_server_answers_as_the_web_server_does(shared_web_tier, version, contributor):
    """Refusals, bad input and anything it does not handle itself read the same on both servers."""
    tier = shared_web_tier(**TIER)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    token = issue_token(contributor).secret
    etag = call(tier, LOOKUP, token=token).headers["ETag"]

    for query, headers, token_used in [
        ("?wait=1", {"If-None-Match": etag}, token),  # the wait ends: 304
        ("?wait=1", {}, "wh_0123abcd_" + "x" * 43),  # an unknown token: 401
        ("?wait=99", {}, token),  # a bad wait: 400
        ("?wait=1&wait=2", {}, token),  # two waits: 400
        ("?wait=1", {"Host": "evil.example.com"}, token),  # a host Django refuses: 400, from Django
    ]:
        on_watch = call(tier, LOOKUP + query, token=token_used, headers=headers, base=tier.watch_url)
        on_web = call(tier, LOOKUP + query, token=token_used, headers=headers, base=tier.web_url)
        assert (on_watch.status, on_watch.body) == (on_web.status, on_web.body), query
        for header in ("Content-Type", "ETag", "Cache-Control", "WWW-Authenticate", "X-Content-Type-Options"):
            assert on_watch.headers.get(header) == on_web.headers.get(header), (query, header)


def test_wrong_tokens_at_the_watch_server_lock_the_address_out_of_both_servers(
    web_tier, version, contributor
):
    """Counted per client address as the web server counts them (accounts/token_throttle.py), in the same
    place: the web server refuses the address at its first wrong token from it, and then its good one. A
    tier of its own: its processes remember the lockout."""
    tier = web_tier(workers=1, threads=4, watch=True, env={"TOKEN_FAILURE_LIMIT": "3"})
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    token = issue_token(contributor).secret
    wrong = "wh_0badc0de_" + "x" * 43

    statuses = [call(tier, LOOKUP, token=wrong, base=tier.watch_url).status for _ in range(3)]
    locked = call(tier, LOOKUP + "?wait=5", token=token, base=tier.watch_url)

    assert statuses == [401, 401, 429]
    assert (locked.status, locked.body["error"]["code"]) == (429, "locked_out")
    assert locked.headers["Retry-After"] == str(15 * 60)
    assert call(tier, LOOKUP, token=wrong, base=tier.web_url).status == 429
    assert call(tier, LOOKUP, token=token, base=tier.web_url).status == 429
    assert AuditEvent.objects.filter(action="api_token.refused").count() == 3
    assert AuditEvent.objects.get(action="api_token.locked_out").data["address"] == "127.0.0.1"

    call_command("axes_reset_ip", "127.0.0.1")

    assert call(tier, LOOKUP, token=token, base=tier.watch_url).status == 200
    assert call(tier, LOOKUP, token=token, base=tier.web_url).status == 200
