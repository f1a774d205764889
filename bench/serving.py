"""`make bench`, second part: the serving path over HTTP, as production runs it.

    python -m bench.serving [--models 500] [--seconds 5] [--rounds 5] [--connections 16] [--watchers 200]

It seeds a registry of its own (a fresh database, as bench.gates does: `<name>_serving` on the PostgreSQL
server of DATABASE_URL, or a SQLite file under var/bench/), starts the production web tier with
scripts/webtier.py (gunicorn with deploy/gunicorn.conf.py, the watch server, nginx from the same template
as docker-compose.yml), and drives it with wrk (Debian's package) at `--connections` connections:

- the floor: `GET /health/live`, a bare Django JSON view through the same middleware, on the same server;
- the production lookup, `GET /api/v1/models/<name>/production` with a token, across every model;
- the pollers' path: the same with `If-None-Match` holding each model's current ETag (304, no body);

each straight to gunicorn and again through nginx, in rounds where the three take turns. It prints
requests per second and p50/p99 (medians over the rounds), each one's ratio to the floor of the same round
(the median of those ratios, and their range), and the web server's CPU time per request (its processes'
user and system time over the run, from /proc: the part of the cost no neighbour on the machine can
change).

Then `--watchers` serving systems wait on one model with `?wait=30` (through nginx, on the watch server):
how long after a stage change commits every one of them has the new answer, and how fast the web server
answers lookups while they all wait.

On PostgreSQL the lookup is served from each process's memory (warehouse/changes.py). On SQLite there is no
change feed: every lookup reads the database, and the ratio says so.
"""

import argparse
import asyncio
import dataclasses
import json
import os
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from bench.common import database_destroy, environment

# Before Django loads: the settings read the environment.
environment()
warnings.filterwarnings("ignore", "No directory at", UserWarning)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from guardian.shortcuts import assign_perm  # noqa: E402

from bench.common import database_create, database_describe, database_url  # noqa: E402
from scripts.webtier import DEPLOY, WebTier, nginx_path, watch  # noqa: E402
from warehouse.accounts.roles import Role, role_groups_sync  # noqa: E402
from warehouse.accounts.services import api_token_create  # noqa: E402
from warehouse.cards.registration import NewModel, registration_parse, version_register_with_card  # noqa: E402
from warehouse.registry.models import RegisteredModel, Stage  # noqa: E402
from warehouse.registry.services import version_transition  # noqa: E402

WRK_THREADS = 2
RATIO_FLOOR = 0.7  # the lookup's throughput against the bare view's: DESIGN's performance budget


# --- Seeding ---------------------------------------------------------------------------------------------


def seed(models: int) -> tuple[str, list[str]]:
    """`models` models, each with v1 replaced in production by v2 (so v2 has a rollback target) and a draft
    v3, seen through their team by the serving system whose token the bench uses. Returns the token and the
    model names."""
    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "bench-admin-password-1")
    role_groups_sync()
    team = Group.objects.create(name="bench-team")
    serving = User.objects.create_user("bench-serving", "serving@example.com", "bench-serving-password-1")
    serving.groups.add(Group.objects.get(name=Role.VIEWER.value), team)
    names = []
    for index in range(models):
        name = f"serving-model-{index:04d}"
        first = _register(admin, NewModel(name=name))
        model = first.model
        assign_perm("registry.view_registeredmodel", team, model)
        for version in (first, _register(admin, model)):
            replaced = model.versions.filter(stage=Stage.PRODUCTION).first()
            version_transition(version=version, to_stage=Stage.STAGING, actor=admin, reason="Bench.")
            version_transition(
                version=version,
                to_stage=Stage.PRODUCTION,
                actor=admin,
                reason="Bench.",
                expected_production=replaced,
            )
        _register(admin, model)
        names.append(name)
    token = api_token_create(actor=serving, user=serving, name="bench serving system").secret
    return token, names


def _register(admin, model):
    registration = registration_parse(
        {
            "description": "Bench version.",
            "artifacts": [
                {
                    "name": "model.onnx",
                    "kind": "weights",
                    "uri": "s3://bench/model.onnx",
                    "sha256": "ab" * 32,
                },
                {
                    "name": "config.json",
                    "kind": "config",
                    "uri": "s3://bench/config.json",
                    "sha256": "cd" * 32,
                },
                {
                    "name": "signature.json",
                    "kind": "signature",
                    "uri": "s3://bench/sig.json",
                    "sha256": "ef" * 32,
                },
            ],
        }
    )
    return version_register_with_card(
        actor=admin, model=model, evidence=registration.evidence, card_sections=registration.card_sections
    )


# --- Load with wrk ---------------------------------------------------------------------------------------

# Each request asks for the next model in turn; done() prints the figures as one line of JSON.
WRK_SCRIPT = """
local paths = {%(paths)s}
local etags = {%(etags)s}
local token = "%(token)s"
local counter = 0
request = function()
  counter = counter + 1
  local index = (counter %% #paths) + 1
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if #etags > 0 then headers["If-None-Match"] = etags[index] end
  return wrk.format("GET", paths[index], headers)
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('WRK {"requests": %%d, "seconds": %%f, "p50": %%d, "p99": %%d, ' ..
    '"bad_status": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    cpu_us: float = 0.0  # the web server's CPU time per request (its processes' user + system time)


def process_group_cpu_seconds(group: int) -> float:
    """User and system CPU time of every process in process group `group` (a gunicorn master and its
    workers, threads included), from /proc: what a run cost the server, whatever else took the machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        # After "pid (comm)": state ppid pgrp ... utime (11th) stime (12th).
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def wrk(
    url: str, paths: list[str], *, token: str = "", etags: list[str] = (), seconds: int, connections: int
) -> Load:
    def lua_list(items) -> str:
        return ", ".join(json.dumps(item) for item in items)

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": lua_list(paths), "etags": lua_list(etags), "token": token})
    try:
        output = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    figures = json.loads(re.search(r"^WRK (.*)$", output, re.MULTILINE).group(1))
    return Load(
        per_second=figures["requests"] / figures["seconds"],
        p50_ms=figures["p50"] / 1000,
        p99_ms=figures["p99"] / 1000,
        requests=figures["requests"],
        bad=figures["bad_status"] + figures["socket_errors"],
    )


def get(url: str, path: str, headers: dict) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def serving_phase(
    tier: WebTier, token: str, names: list[str], *, seconds: int, connections: int, rounds: int
):
    """Each figure `rounds` times, the floor and the lookups taking turns, so that whatever else the machine
    does weighs on each alike; the ratios are taken within each round."""
    paths = [f"/api/v1/models/{name}/production" for name in names]
    auth = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
    etags = []
    for path in paths:
        status, headers, _ = get(tier.web_url, path, auth)
        assert status == 200, (path, status)
        etags.append(headers["ETag"])
    loads = {
        "floor": {"paths": ["/health/live"]},
        "lookup": {"paths": paths, "token": token},
        "304": {"paths": paths, "token": token, "etags": etags},
    }
    results: dict[tuple[str, str], list[Load]] = {}
    for where, url in (("gunicorn", tier.web_url), ("nginx → gunicorn", tier.url)):
        for kwargs in loads.values():
            # Warms every worker process (its change feed, what it remembers) and the connections.
            wrk(url, seconds=2, connections=connections, **kwargs)
        for round_number in range(1, rounds + 1):
            print(f"bench: {where}, round {round_number} of {rounds}...", flush=True)
            for what, kwargs in loads.items():
                cpu_before = process_group_cpu_seconds(tier.web.pid)
                load = wrk(url, seconds=seconds, connections=connections, **kwargs)
                cpu = process_group_cpu_seconds(tier.web.pid) - cpu_before
                load = dataclasses.replace(load, cpu_us=cpu / max(load.requests, 1) * 1e6)
                results.setdefault((where, what), []).append(load)
    return results


# --- Watchers --------------------------------------------------------------------------------------------


def watch_phase(tier: WebTier, token: str, name: str, watchers: int) -> dict:
    """`watchers` serving systems wait on one model through nginx; a rollback commits; when has each the
    new answer? Meanwhile, how fast are ordinary lookups?"""
    path = f"/api/v1/models/{name}/production"
    auth = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
    _, headers, _ = get(tier.url, path, auth)
    current = (
        RegisteredModel.objects.get(name=name)
        .versions.select_related("rollback_target")
        .get(stage=Stage.PRODUCTION)
    )
    admin = User.objects.get(username="bench-admin")

    def roll_back() -> float:
        try:
            version_transition(
                version=current.rollback_target,
                to_stage=Stage.PRODUCTION,
                actor=admin,
                reason="Bench: watchers.",
            )
            return time.monotonic()
        finally:
            connection.close()  # this thread's own connection: open, it keeps the database from being dropped

    async def run() -> dict:
        waiting = f"{path}?wait=30"
        tasks = [
            asyncio.create_task(
                watch(tier.url, host="127.0.0.1", path=waiting, token=token, etag=headers["ETag"])
            )
            for _ in range(watchers)
        ]
        await asyncio.sleep(2)  # every watcher is waiting
        lookups = []
        for _ in range(50):
            started = time.monotonic()
            status, _, _ = await asyncio.to_thread(get, tier.url, path, auth)
            lookups.append(time.monotonic() - started)
            assert status == 304 or status == 200
        still_waiting = sum(not task.done() for task in tasks)
        committed = await asyncio.to_thread(roll_back)
        answered = await asyncio.gather(*tasks)
        return {
            "waiting": still_waiting,
            "statuses": {status for _, status, _ in answered},
            "last_ms": (max(at for at, _, _ in answered) - committed) * 1000,
            "median_ms": statistics.median(at - committed for at, _, _ in answered) * 1000,
            "lookup_p50_ms": statistics.median(lookups) * 1000,
        }

    return asyncio.run(run())


# --- Report ----------------------------------------------------------------------------------------------


def report(*, args, results, watch, seed_seconds) -> bool:
    rule, thin = "=" * 104, "-" * 104
    print()
    print(rule)
    print(
        f"Warehouse serving bench: database {database_describe()}; {len(os.sched_getaffinity(0))} CPUs; "
        f"{args.models} models; wrk {WRK_THREADS} threads, {args.connections} connections, "
        f"{args.seconds} s each"
    )
    print(f"The web tier as deployed: {tier_description()}; seeding took {seed_seconds:.0f} s")
    print(rule)
    print(
        f"  median of {args.rounds} rounds{'':<14}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'vs floor':>10}"
        f"{'(range)':>13}{'p99 vs':>8}{'CPU µs/req':>12}"
    )
    good = True
    # The budget is the production deployment's: on SQLite there is no change feed to serve from memory.
    on_postgres = connection.vendor == "postgresql"
    for where in ("gunicorn", "nginx → gunicorn"):
        print(thin)
        floors = results[(where, "floor")]
        for what, title in (
            ("floor", f"{where}: floor"),
            ("lookup", f"{where}: lookup 200"),
            ("304", f"{where}: lookup 304"),
        ):
            loads = results[(where, what)]
            rounds = list(zip(loads, floors, strict=True))
            # Within each round, against that round's floor.
            ratios = sorted(load.per_second / floor.per_second for load, floor in rounds)
            ratio = statistics.median(ratios)
            p99_ratio = statistics.median(load.p99_ms / floor.p99_ms for load, floor in rounds)
            per_second = statistics.median(load.per_second for load in loads)
            p50 = statistics.median(load.p50_ms for load in loads)
            p99 = statistics.median(load.p99_ms for load in loads)
            cpu = statistics.median(load.cpu_us for load in loads)
            spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
            print(
                f"  {title:<34}{per_second:>8,.0f}{p50:>8.2f}{p99:>8.2f}{ratio:>9.2f}x{spread:>13}"
                f"{p99_ratio:>7.2f}x{cpu:>12,.0f}"
            )
            bad = sum(load.bad for load in loads)
            if bad:
                total = sum(load.requests for load in loads)
                print(f"    ! {bad} of {total} requests failed or answered an error")
                good = False
            if what != "floor" and (ratio < RATIO_FLOOR or p99_ratio > 2) and on_postgres:
                good = False
    print(thin)
    print(
        f"  {args.watchers} watchers on one model (?wait=30, nginx → watch server): all had the new answer "
        f"{watch['last_ms']:.0f} ms after the commit (median {watch['median_ms']:.0f} ms); statuses "
        f"{sorted(watch['statuses'])}"
    )
    print(
        f"  while they waited ({watch['waiting']} still waiting), a lookup on the web server took "
        f"{watch['lookup_p50_ms']:.2f} ms (p50 of 50)"
    )
    print(rule)
    if not on_postgres:
        print(
            "  On SQLite every lookup reads the database (no change feed): the budget applies to PostgreSQL."
        )
    print(
        "  verdict: "
        + (
            f"the lookup runs at >= {RATIO_FLOOR:.0%} of the floor, p99 within 2x"
            if good
            else f"BELOW the budget (>= {RATIO_FLOOR:.0%} of the floor's req/s, p99 within 2x), or errors"
        )
    )
    return good


def tier_description() -> str:
    """The web server's configuration, read from the file production uses."""
    config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    return (
        f"gunicorn {config['worker_class']}, {config['workers']} workers x {config['threads']} threads "
        "(deploy/gunicorn.conf.py); the watch server (gunicorn -k asgi); nginx (deploy/nginx/)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=500, help="models in the registry (default 500)")
    parser.add_argument("--seconds", type=int, default=5, help="seconds of each load (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every load (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--watchers", type=int, default=200, help="waiting watchers (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("wrk",) if subprocess.run(["which", tool], capture_output=True).returncode]
    if missing or nginx_path() is None:
        print("bench: needs wrk and nginx (Debian: apt-get install wrk nginx).", file=sys.stderr)
        return 2

    print(f"bench: a fresh database and {args.models} models...", flush=True)
    configured = database_create("serving")
    try:
        started = time.perf_counter()
        token, names = seed(args.models)
        seed_seconds = time.perf_counter() - started
        env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "WARNING"}
        print("bench: starting the web tier...", flush=True)
        with WebTier(env=env, watch=True) as tier:
            results = serving_phase(
                tier, token, names, seconds=args.seconds, connections=args.connections, rounds=args.rounds
            )
            print(f"bench: {args.watchers} watchers...", flush=True)
            watch = watch_phase(tier, token, names[0], args.watchers)
        good = report(args=args, results=results, watch=watch, seed_seconds=seed_seconds)
    finally:
        if not args.keep:
            database_destroy(configured)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
