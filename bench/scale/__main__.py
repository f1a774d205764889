"""`make bench-scale`: every page and API list at 1/100 scale and at full scale, from one run.

    python -m bench.scale [--models 10000] [--samples 20] [--rounds 3] [--seconds 10] [--keep] [--reuse]

Full scale is 10,000 models, 100,000 versions, about 2.4 million slice metrics and 1,000,000 audit events
(1/100 of each at 1/100 scale). Needs PostgreSQL (DATABASE_URL; the bench makes `<name>_scale_full` and
`<name>_scale_small` on that server and drops them after, unless --keep), nginx and wrk (Debian packages).
Building the full registry takes about 3 minutes and 2 GB of disk on a 2-core machine (bench.scale.seed
prints its figures); --reuse measures databases kept by an earlier --keep run without building them again.

Both registries are served at once by the production web tier (scripts/webtier.py: nginx in front of
gunicorn with deploy/gunicorn.conf.py), and signed in as a reviewer who sees every model through their
teams (django-guardian, not as a superuser). In each of --rounds rounds every page is asked for --samples
times of each registry in turn, one request after another on a kept-alive connection, so whatever else the
machine does weighs on both alike; p50 and p95 pool the rounds. The floor is /health/live on the same tier.
Then the API models list under load (wrk, 16 connections), --rounds times a scale in turn, the median
taken, in two ways: the same page asked again and again, as dashboards and pipelines poll it (remembered
by each process until something it shows changes, api/remembered.py), and each request a page not asked
before (read from the database). Asked again, its requests a second at full scale must be at least 10x
MLflow's own search rate, measured in the same run on a real `mlflow server` holding 500 models
(bench.scale.mlflow_search), and at least 10x the 8 req/s MLflow's search first measured here; read
afresh, its multiples are printed beside. Last, `verify_audit` walks the full trail and prints its rate
next to raw hashing.

A page passes when its p95 at full scale is at most 1.5x its p95 at 1/100 scale.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, environment

environment()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.load import WRK_THREADS  # noqa: E402
from bench.scale.measure import Latency, latency, session_sign_in, throughput  # noqa: E402
from bench.scale.mlflow_search import MLFLOW_PAGE, mlflow_search_rate  # noqa: E402
from bench.scale.templates import PASSWORD  # noqa: E402
from scripts.webtier import WebTier, nginx_path  # noqa: E402

P95_RATIO_BUDGET = 1.5
MLFLOW_SEARCH_RATE = 8.0  # req/s: MLflow's search of 100 models at 500 models, as first measured here
MLFLOW_MULTIPLE = 10
CONNECTIONS = 16
# Pages of as many models as MLflow's search is asked for.
LOADED_PATH = f"/api/v1/models?page_size={MLFLOW_PAGE}"

# (title, path, asked with the token rather than the session, each request a URL not asked before). The API
# remembers a list's pages per URL until something they show changes (api/remembered.py): the models list
# is measured both as a dashboard polls it, the same page again, and read afresh; searches, which people
# type, only afresh.
PAGES = (
    ("floor: /health/live", "/health/live", False, False),
    ("home", "/", False, False),
    ("models list", "/models/", False, False),
    ("model", "/models/{model}/", False, False),
    ("version, 200 slices", "/models/{model}/versions/{wide_version}/", False, False),
    ("promotion request", "/models/{model}/promotions/{request}/", False, False),
    ("reviewer queue", "/reviews/", False, False),
    ("audit trail", "/audit/", False, False),
    ("audit trail, one model", "/audit/?model={model}", False, False),
    ("audit trail, an actor", "/audit/?actor=scale-viewer", False, False),
    ("audit trail, *.refused", "/audit/?action=*.refused", False, False),
    ("audit trail, permission.*", "/audit/?action=permission.*", False, False),
    ("card", "/models/{model}/versions/{wide_version}/card/", False, False),
    ("API models, remembered", "/api/v1/models", True, False),
    ("API models, read afresh", "/api/v1/models", True, True),
    ("API versions of a model", "/api/v1/models/{model}/versions", True, False),
    ("API search, one name", "/api/v1/models?search={model}", True, True),
    ("API search, a team", "/api/v1/models?search=risk", True, True),
)
# How the API models list is loaded: as pollers ask it (the same page), and each request a page not asked
# before.
LOAD_MODES = {"remembered": False, "read afresh": True}


def database_url_for(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER'] or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{name}"


def database_recreate(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seeded(name: str, models: int, summary: Path, *, reuse: bool) -> dict:
    if reuse and summary.exists():
        print(f"bench: reusing {name} ({summary})", flush=True)
        return json.loads(summary.read_text())
    database_recreate(name)
    print(f"bench: building {models:,} models in {name}...", flush=True)
    env = {**os.environ, "DATABASE_URL": database_url_for(name)}
    subprocess.run(
        [sys.executable, "-m", "bench.scale.seed", "--models", str(models), "--summary", str(summary)],
        env=env,
        cwd=ROOT,
        check=True,
    )
    return json.loads(summary.read_text())


def measure(scales: dict, *, samples: int, rounds: int) -> dict[tuple[str, str], Latency]:
    """Every page of every scale, `rounds` times, the scales taking turns page by page."""
    timings: dict[tuple[str, str], list[Latency]] = {}
    for round_number in range(1, rounds + 1):
        print(f"bench: pages, round {round_number} of {rounds}...", flush=True)
        for title, path, api, afresh in PAGES:
            for scale, (tier, summary, cookie) in scales.items():
                headers = {"Host": "127.0.0.1"}
                headers.update({"Authorization": f"Bearer {summary['token']}"} if api else {"Cookie": cookie})
                found = latency(tier.url, path.format(**summary), headers, samples=samples, afresh=afresh)
                timings.setdefault((title, scale), []).append(found)
    return {key: pooled(found) for key, found in timings.items()}


def under_load(scales: dict, *, seconds: int, rounds: int) -> dict[tuple[str, str], tuple[list[float], int]]:
    """The API models list under wrk, in each of LOAD_MODES, `rounds` times at each scale in turn: each
    round's requests a second, and the failures of all, by (mode, scale). Apart, the rounds show the
    machine's swings; their median is the figure."""
    found = {(mode, scale): ([], 0) for mode in LOAD_MODES for scale in scales}
    for round_number in range(1, rounds + 1):
        print(f"bench: the API models list under load, round {round_number} of {rounds}...", flush=True)
        for mode, afresh in LOAD_MODES.items():
            for scale, (tier, summary, _) in scales.items():
                rate, bad = throughput(
                    tier.url,
                    LOADED_PATH,
                    summary["token"],
                    seconds=seconds,
                    connections=CONNECTIONS,
                    afresh=afresh,
                )
                rates, failed = found[(mode, scale)]
                found[(mode, scale)] = ([*rates, rate], failed + bad)
    return found


def pooled(found: list[Latency]) -> Latency:
    # The rounds' medians and 95th percentiles, each taken at its median round: robust to one noisy round.
    middle = sorted(found, key=lambda one: one.p95_ms)[len(found) // 2]
    return Latency(
        p50_ms=sorted(one.p50_ms for one in found)[len(found) // 2],
        p95_ms=middle.p95_ms,
        samples=sum(one.samples for one in found),
        bytes=middle.bytes,
    )


def verify_audit(name: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url_for(name), "DEBUG": "0"}
    done = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    return (done.stdout + done.stderr).strip()


def report(*, rows: dict, latencies: dict, load: dict, mlflow, audit: str) -> bool:
    rule = "=" * 100
    small, full = rows["1/100"], rows["full"]
    print()
    print(rule)
    print(
        f"Warehouse scale bench: {len(os.sched_getaffinity(0))} CPUs; the production web tier "
        "(nginx, gunicorn)"
    )
    for label in ("models", "versions", "slice metrics", "audit events", "promotion requests"):
        print(f"  {label:<20}{small['rows'][label]:>14,}{full['rows'][label]:>14,}")
    print(
        f"  {'database size':<20}{small['rows']['database bytes'] / 2**20:>11,.0f} MB"
        f"{full['rows']['database bytes'] / 2**20:>11,.0f} MB"
    )
    print(f"  {'built in':<20}{small['seconds']['total']:>12,.0f} s{full['seconds']['total']:>12,.0f} s")
    print(rule)
    print(
        f"  {'page (signed-in reviewer) / API (token)':<34}{'1/100 p50':>10}{'p95':>8}"
        f"{'full p50':>10}{'p95':>8}{'p95 ratio':>11}  verdict"
    )
    good = True
    for title, *_ in PAGES:
        one, other = latencies[(title, "1/100")], latencies[(title, "full")]
        ratio = other.p95_ms / one.p95_ms
        passed = ratio <= P95_RATIO_BUDGET
        good &= passed or title.startswith("floor")
        verdict = "floor" if title.startswith("floor") else ("ok" if passed else f"OVER {P95_RATIO_BUDGET}x")
        print(
            f"  {title:<34}{one.p50_ms:>10.1f}{one.p95_ms:>8.1f}{other.p50_ms:>10.1f}{other.p95_ms:>8.1f}"
            f"{ratio:>10.2f}x  {verdict}"
        )
    print(rule)
    for (mode, scale), (rates, bad) in load.items():
        print(
            f"  API models list, {MLFLOW_PAGE} a page, {mode}, wrk {WRK_THREADS}x{CONNECTIONS} connections, "
            f"{scale}: {statistics.median(rates):,.0f} req/s, the median of "
            + ", ".join(f"{rate:,.0f}" for rate in rates)
            + (f" ({bad} failed)" if bad else "")
        )
    print(
        f"  MLflow's search, {MLFLOW_PAGE} of {mlflow.models:,} models a page, the same wrk, this run: "
        f"{mlflow.per_second:,.1f} req/s" + (f" ({mlflow.bad} failed)" if mlflow.bad else "")
    )
    for mode in LOAD_MODES:
        rates, bad = load[(mode, "full")]
        rate = statistics.median(rates)
        for title, theirs in (("in this run", mlflow.per_second), ("first measured", MLFLOW_SEARCH_RATE)):
            passed = theirs > 0 and rate >= theirs * MLFLOW_MULTIPLE and not bad and not mlflow.bad
            # The list as it is asked again and again is held to the multiple; read afresh, it is shown.
            held = mode == "remembered"
            good &= passed or not held
            multiple = f"{rate / theirs:,.1f}x" if theirs > 0 else "-"
            verdict = ("ok" if passed else "BELOW") if held else "shown, not held"
            print(
                f"  at full scale, {mode}: {multiple} MLflow's search rate {title} ({theirs:,.1f} req/s); "
                f"needs >= {MLFLOW_MULTIPLE}x: {verdict}"
            )
    print(rule)
    print("  verify_audit over the full trail:")
    for line in audit.splitlines():
        print(f"    {line}")
    print(rule)
    passed_all = f"every page within {P95_RATIO_BUDGET}x of its p95 at 1/100, and the API ahead"
    print(f"  verdict: {passed_all if good else 'FAILED (see above)'}")
    return good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=10_000, help="models at full scale (default 10,000)")
    parser.add_argument("--samples", type=int, default=20, help="requests per page, scale and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="seconds of the API list's load")
    parser.add_argument("--keep", action="store_true", help="keep both databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure the databases an earlier --keep left")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        print("bench: the scale bench needs PostgreSQL (DATABASE_URL=postgres://...).", file=sys.stderr)
        return 2
    if nginx_path() is None or subprocess.run(["which", "wrk"], capture_output=True).returncode:
        print("bench: needs wrk and nginx (Debian: apt-get install wrk nginx).", file=sys.stderr)
        return 2
    base = connection.settings_dict["NAME"]
    names = {"1/100": f"{base}_scale_small", "full": f"{base}_scale_full"}
    sizes = {"1/100": args.models // 100, "full": args.models}
    folder = Path(settings.VAR_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = {
        scale: seeded(
            names[scale], sizes[scale], folder / f"scale-{scale.replace('/', '-')}.json", reuse=args.reuse
        )
        for scale in names
    }
    print(f"bench: built in {time.perf_counter() - started:,.0f} s", flush=True)
    try:
        tiers = {
            scale: WebTier(
                env={
                    **os.environ,
                    "DATABASE_URL": database_url_for(names[scale]),
                    "LOG_LEVEL": "WARNING",
                    "SESSION_COOKIE_SECURE": "0",
                    "CSRF_COOKIE_SECURE": "0",
                }
            )
            for scale in names
        }
        for tier in tiers.values():
            tier.start()
        scales = {
            scale: (
                tier,
                rows[scale],
                session_sign_in(tier.url, username="scale-reviewer", password=PASSWORD),
            )
            for scale, tier in tiers.items()
        }
        latencies = measure(scales, samples=args.samples, rounds=args.rounds)
        load = under_load(scales, seconds=args.seconds, rounds=args.rounds)
    finally:
        for tier in locals().get("tiers", {}).values():
            tier.stop()
    try:
        print("bench: MLflow's search, on a real tracking server...", flush=True)
        mlflow = mlflow_search_rate(seconds=args.seconds, connections=CONNECTIONS)
        audit = verify_audit(names["full"])
    finally:
        if not args.keep:
            for name in names.values():
                database_drop(name)
            for scale in names:
                (folder / f"scale-{scale.replace('/', '-')}.json").unlink(missing_ok=True)
    good = report(rows=rows, latencies=latencies, load=load, mlflow=mlflow, audit=audit)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
