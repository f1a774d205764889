"""`make bench`, first part: gate throughput on one real Celery worker, audit verification speed and page
latency, each printed next to a floor measured in the same run (the serving path is bench/serving.py).

    python -m bench.gates [--runs 1000] [--slices 200] [--pages 50] [--keep]

It runs on whatever the environment configures, as the product does: the embedded default (SQLite and the
filesystem broker) or PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL, REDIS_URL). It never touches
the warehouse's own data: it creates a database of its own (`<var>/bench/bench.sqlite3`, or `<name>_bench`
on the server DATABASE_URL names), drops it at the end, and keeps its filesystem broker under `<var>/bench/`.
On Redis it empties the `gates` and `celery` queues of the broker it is given: give it a database of its own
(`redis://host:6379/5`) when other workers use that Redis.

What it measures:

- Gate throughput. The registry holds a production baseline per model and candidates with `--slices` slices
  each (the same slices as the baseline), gated for Staging under a policy that requires every check, with
  metric bars, baseline rules on every metric and a slice rule over all slices: every check does real work.
  `--runs` gate runs are requested in one transaction; from its commit (the runs are published one by one
  after it, as the product does) to the last run's final state, ONE worker process (solo pool) runs them.
  The floor is the same worker, through the same broker and queue, doing only what a gate run does before
  its checks, for the same runs: read the run and its rules, and load the evidence snapshot
  (bench.tasks.snapshot_load_task). The ratio is what claiming, the eleven checks, progress and writing the
  results and the audit event cost on top of loading the evidence.
- Audit verification: `verify_audit`'s walk over every event the bench wrote, against reading the same
  events without checking their hashes.
- Page latency: the pages people wait for (version page, model card, gate report, promotion request,
  reviewer queue, the alert link's jump page, model page) for a candidate with `--slices` slices, signed in;
  against the same session's 404 page (routing, session, sign-in check and a template, no data).
"""

import argparse
import logging
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter

from bench.common import ROOT, database_destroy, environment

METRICS = {
    "auc": ("higher", 0.91),
    "recall": ("higher", 0.74),
    "precision": ("higher", 0.81),
    "log_loss": ("lower", 0.21),
}
SLICE_METRIC = "auc"
CANDIDATES_PER_MODEL = 50

# Before Django loads: the settings read the environment.
environment()
# The bench serves static/ as it is, like the tests: there is no collectstatic folder.
warnings.filterwarnings("ignore", "No directory at", UserWarning)

import django  # noqa: E402

django.setup()
# The page floor answers 404 on purpose, many times: not worth a warning each.
logging.getLogger("django.request").setLevel(logging.ERROR)

from django.contrib.auth.models import User  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

from bench.common import broker_describe, database_create, database_describe, database_url  # noqa: E402
from warehouse.audit.chain import chain_verify  # noqa: E402
from warehouse.audit.models import AuditEvent  # noqa: E402
from warehouse.audit.selectors import audit_events_in_sequence  # noqa: E402
from warehouse.cards.registration import NewModel, registration_parse, version_register_with_card  # noqa: E402
from warehouse.celery import app  # noqa: E402
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start  # noqa: E402
from warehouse.promotions.models import CheckResult, GateRun, GateState  # noqa: E402
from warehouse.promotions.policies.rules import DEFAULT_RULES, Check  # noqa: E402
from warehouse.promotions.policies.services import policy_revise  # noqa: E402
from warehouse.promotions.requests.services import promotion_request_open  # noqa: E402
from warehouse.registry.models import Stage  # noqa: E402
from warehouse.registry.services import version_transition  # noqa: E402

# --- Seeding --------------------------------------------------------------------------------------------


def bench_rules() -> dict:
    """Every check required, and each with something to compare."""
    rules = DEFAULT_RULES.as_data()
    rules["draft_to_staging"].update(
        required_checks=list(Check.ALL),
        metric_bars=[
            {"metric": "auc", "op": ">=", "value": 0.85},
            {"metric": "log_loss", "op": "<=", "value": 0.3},
        ],
        baseline=[
            {"metric": name, "tolerance": 0.02, "relative": name == "log_loss", "direction": None}
            for name in METRICS
        ],
        slices={
            "scope": "all",
            "slices": [],
            "metrics": [],
            "max_worsening": 0.03,
            "relative": False,
            "min_samples": 100,
        },
        latency_p95_ms_max=20.0,
        cost_per_1k_max=0.05,
        required_card_sections=["task", "known_failures", "owners_contacts"],
    )
    return rules


def payload(rng: random.Random, slices: int, *, baseline: dict | None) -> dict:
    """A registration as a pipeline sends it. Candidates move each value a little from the baseline's, so
    some slices regress past the policy's tolerance and some candidates fail."""

    def near(value: float) -> float:
        return round(min(max(value + rng.gauss(0, 0.008), 0.0), 1.0), 6)

    metrics = {
        name: near(baseline["metrics"][name]) if baseline else value for name, (_, value) in METRICS.items()
    }
    slice_values = [
        near(baseline["slices"][index]) if baseline else round(0.8 + rng.random() / 10, 6)
        for index in range(slices)
    ]
    return {
        "description": "Bench candidate.",
        "artifacts": [
            {
                "name": "model.onnx",
                "kind": "weights",
                "uri": "s3://bench/model.onnx",
                "sha256": "ab" * 32,
                "size_bytes": 2**24,
            },
            {
                "name": "config.json",
                "kind": "config",
                "uri": "s3://bench/config.json",
                "sha256": "cd" * 32,
                "size_bytes": 512,
            },
        ],
        "source_run": {
            "tracking_system": "mlflow",
            "run_id": f"run-{rng.getrandbits(48):x}",
            "url": "https://mlflow.example.com/r",
        },
        "evaluation": {
            "dataset": "bench-holdout",
            "dataset_version": "1",
            "metrics": [
                {"name": name, "value": metrics[name], "direction": direction}
                for name, (direction, _) in METRICS.items()
            ],
            "slices": [
                {
                    "slice": f"segment=s{index:03d}",
                    "metric": SLICE_METRIC,
                    "value": slice_values[index],
                    # A few slices are too small to judge: the rule's minimum sample count applies.
                    "sample_count": 50 if index % 40 == 0 else 1000 + index,
                }
                for index in range(slices)
            ],
        },
        "profile": {
            "latency_p50_ms": 4.0,
            "latency_p95_ms": round(9 + rng.random() * 12, 2),
            "latency_p99_ms": 25.0,
            "hardware": "c6i.xlarge",
            "throughput_rps": 900,
            "cost_per_1k_predictions": "0.0125",
            "currency": "USD",
        },
        "card": {
            "task": "Scores things for the bench.",
            "known_failures": "None known.",
            "owners_contacts": "bench@example.com",
        },
        "_values": {"metrics": metrics, "slices": slice_values},
    }


def register(actor, model, body: dict):
    body = dict(body)
    body.pop("_values")
    registration = registration_parse(body)
    return version_register_with_card(
        actor=actor, model=model, evidence=registration.evidence, card_sections=registration.card_sections
    )


def seed(*, runs: int, slices: int) -> tuple[User, list]:
    rng = random.Random(20261126)
    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "bench-admin-password-1")
    policy_revise(actor=admin, model=None, rules_data=bench_rules(), reason="Bench: every check does work.")
    candidates = []
    for index in range(math.ceil(runs / CANDIDATES_PER_MODEL)):
        body = payload(rng, slices, baseline=None)
        baseline = register(admin, NewModel(name=f"bench-model-{index:03d}"), body)
        version_transition(version=baseline, to_stage=Stage.STAGING, actor=admin, reason="Bench baseline.")
        version_transition(
            version=baseline,
            to_stage=Stage.PRODUCTION,
            actor=admin,
            reason="Bench baseline.",
            expected_production=None,
        )
        for _ in range(min(CANDIDATES_PER_MODEL, runs - len(candidates))):
            candidates.append(register(admin, baseline.model, payload(rng, slices, baseline=body["_values"])))
    return admin, candidates


# --- The worker -----------------------------------------------------------------------------------------

SUCCEEDED = re.compile(
    r"Task (?P<task>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[0-9.e-]+)s: (?P<result>.*)$"
)
TROUBLE = re.compile(r"Task [\w.]+\[[^\]]+\] (raised|retry)|ERROR/|CRITICAL/")


class Worker:
    """One `celery -A warehouse worker` process (solo pool) that also imports the bench's task."""

    def __init__(self, env: dict[str, str]):
        self.lines: list[str] = []
        self.done: dict[str, list[tuple[float, float, str]]] = {}  # task → (seen at, seconds in task, result)
        self.trouble: list[str] = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "warehouse", "worker",
                "--pool=solo", "--concurrency=1", "--loglevel=INFO", "--include=bench.tasks",
                "--hostname=bench@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            seen = time.perf_counter()
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                if match := SUCCEEDED.search(line):
                    self.done.setdefault(match["task"], []).append(
                        (seen, float(match["seconds"]), match["result"])
                    )
                elif TROUBLE.search(line):
                    self.trouble.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.lines.append("[bench] the worker's output ended")
            self.changed.notify_all()

    def wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None or self.trouble:
                    tail = "\n".join(self.lines[-40:])
                    raise SystemExit(f"bench: gave up waiting for {what}. The worker's last lines:\n{tail}")
                self.changed.wait(min(left, 1.0))

    def wait_ready(self) -> None:
        self.wait(lambda: any(" ready." in line for line in self.lines), 120, "the worker to start")

    def wait_done(self, task: str, count: int, timeout: float) -> list[tuple[float, float, str]]:
        self.wait(lambda: len(self.done.get(task, ())) >= count, timeout, f"{count} {task} tasks")
        return self.done[task][:count]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def queues_purge() -> None:
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue.bind(conn.default_channel).declare()
            queue.bind(conn.default_channel).purge()


# --- Measurements ---------------------------------------------------------------------------------------


def gate_phase(worker: Worker, admin, candidates, timeout: float) -> tuple[float, list, list[int]]:
    with transaction.atomic():
        runs = [gate_run_start(actor=admin, version=v, target_stage=Stage.STAGING) for v in candidates]
        # Timed from here: the commit, then each run published on commit (the product's path), run, finished.
        started = time.perf_counter()
    done = worker.wait_done("promotions.gate_run_execute", len(runs), timeout)
    return started, done, [run.pk for run in runs]


def floor_phase(worker: Worker, run_ids: list[int], timeout: float) -> tuple[float, list]:
    started = time.perf_counter()
    for run_id in run_ids:
        # The queue gate runs go to; a new connection per publish is avoided by the app's producer pool,
        # as for the gates.
        app.send_task("bench.snapshot_load", args=[run_id], queue="gates")
    return started, worker.wait_done("bench.snapshot_load", len(run_ids), timeout)


def best_of(repeat: int, function) -> float:
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def audit_phase() -> tuple[int, float, float]:
    events = AuditEvent.objects.count()

    def verify() -> None:
        report = chain_verify(audit_events_in_sequence().iterator(chunk_size=2000))
        assert report.ok and report.checked == events, report

    def read() -> None:
        for _ in audit_events_in_sequence().iterator(chunk_size=2000):
            pass

    return events, best_of(3, verify), best_of(3, read)


def timings(calls: int, function, before=None) -> list[float]:
    samples = []
    for index in range(calls):
        if before is not None:
            before(index)
        started = time.perf_counter()
        function(index)
        samples.append(time.perf_counter() - started)
    return samples


def page_phase(admin, candidates, calls: int) -> dict[str, list[float]]:
    """The pages people wait for, on the seeded registry (candidates with every slice compared against
    production), each as a signed-in browser asks for it; the floor is the same session's 404 page."""
    candidate = candidates[0]
    model = candidate.model
    promotion = promotion_request_open(
        actor=admin, version=candidate, target_stage=Stage.STAGING, justification="Bench: a request to read."
    )
    gate_run_execute(run_id=promotion.gate_run_id)
    client = Client()
    client.force_login(admin)
    pages = {
        "version page": f"/models/{model.name}/versions/{candidate.number}/",
        "model card": f"/models/{model.name}/versions/{candidate.number}/card/",
        "gate report": f"/models/{model.name}/versions/{candidate.number}/gates/{promotion.gate_run_id}/",
        "promotion request": f"/models/{model.name}/promotions/{promotion.pk}/",
        "reviewer queue": "/reviews/",
        "jump page /go/<model>": f"/go/{model.name}",
        "model page": f"/models/{model.name}/",
    }
    results = {}
    for title, path in pages.items():
        assert client.get(path).status_code == 200, path  # warm, and check it serves
        results[title] = timings(calls, lambda _, path=path: client.get(path))
    results["page floor"] = timings(calls, lambda _: client.get("/models/no-such-model/"))
    return results


# --- Report ---------------------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}" if seconds < 0.01 else f"{seconds * 1000:.2f}"


def report(*, args, seed_seconds, gate, floor, audit, verdicts, pages) -> None:
    (g_start, g_done), (f_start, f_done) = gate, floor
    runs = len(g_done)
    g_rate, f_rate = runs / (g_done[-1][0] - g_start), runs / (f_done[-1][0] - f_start)
    g_task = statistics.fmean(seconds for _, seconds, _ in g_done)
    f_task = statistics.fmean(seconds for _, seconds, _ in f_done)
    events, verify_s, read_s = audit
    rule, thin = "=" * 104, "-" * 104

    def row(title: str, *cells: str) -> None:
        print(f"  {title:<64}" + "".join(f"{cell:>19}" for cell in cells))

    print()
    print(rule)
    print(f"Warehouse bench: database {database_describe()}, broker {broker_describe()}")
    print(
        f"{runs} gate runs on one worker process (solo pool), candidates with {args.slices} slices each\n"
        f"against a production baseline with the same slices; {os.cpu_count()} CPUs; "
        f"seeding took {seed_seconds:.0f} s"
    )
    print(rule)
    print(f"{'Gate throughput, end to end through the broker':<66}{'runs/s':>19}{'ms/run in the task':>19}")
    print(thin)
    row(
        "gate runs: committed, published, claimed, 11 checks, written",
        f"{g_rate:.1f}",
        f"{g_task * 1000:.2f}",
    )
    row(
        "floor: the same worker loads the evidence only (snapshot_load)",
        f"{f_rate:.1f}",
        f"{f_task * 1000:.2f}",
    )
    row(
        "gate / floor: what the checks and the writes cost",
        f"{f_rate / g_rate:.2f}x",
        f"{g_task / f_task:.2f}x",
    )
    print(f"  verdicts: {', '.join(f'{count} {state}' for state, count in sorted(verdicts.items()))}")
    print()
    print(f"{'Audit verification':<66}{'events/s':>19}{'seconds':>19}")
    print(thin)
    row(
        f"verify_audit over the {events:,} events the bench wrote",
        f"{events / verify_s:,.0f}",
        f"{verify_s:.3f}",
    )
    row("floor: read the same events, no hashing", f"{events / read_s:,.0f}", f"{read_s:.3f}")
    row("verify / floor", "", f"{verify_s / read_s:.2f}x")
    print()
    heading = f"Page latency, signed in, {args.slices} slices a version"
    print(f"{heading:<50}{'calls':>8}{'p50 ms':>10}{'p95 ms':>10}   floor p50 / p95 ms")
    print(thin)
    floor_samples = pages["page floor"]
    f50, f95 = ms(percentile(floor_samples, 0.5)), ms(percentile(floor_samples, 0.95))
    for title, samples in pages.items():
        if title == "page floor":
            continue
        p50, p95 = ms(percentile(samples, 0.5)), ms(percentile(samples, 0.95))
        print(f"  {title:<48}{len(samples):>8}{p50:>10}{p95:>10}   {f50} / {f95} (the same session's 404)")
    print(rule)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="gate runs (default 1000)")
    parser.add_argument("--slices", type=int, default=200, help="slices per candidate (default 200)")
    parser.add_argument("--pages", type=int, default=50, help="requests per page (default 50)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.slices < 1:
        parser.error("--runs and --slices must be positive")

    print(f"bench: a fresh database and {args.runs} candidates with {args.slices} slices each...", flush=True)
    configured = database_create()
    worker = None
    try:
        started = time.perf_counter()
        admin, candidates = seed(runs=args.runs, slices=args.slices)
        seed_seconds = time.perf_counter() - started
        print(f"bench: seeded in {seed_seconds:.0f} s; starting one worker", flush=True)
        queues_purge()
        env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        worker = Worker(env)
        worker.wait_ready()
        timeout = max(120.0, args.runs * 1.0)
        print(f"bench: {args.runs} gate runs...", flush=True)
        gate = gate_phase(worker, admin, candidates, timeout)
        g_start, g_done, run_ids = gate
        print(f"bench: the floor, snapshot_load for the same {len(run_ids)} runs...", flush=True)
        floor = floor_phase(worker, run_ids, timeout)
        worker.stop()
        worker = None

        finished = GateRun.objects.filter(pk__in=run_ids, state__in=[GateState.PASSED, GateState.FAILED])
        assert finished.count() == len(run_ids), Counter(GateRun.objects.values_list("state", flat=True))
        assert CheckResult.objects.filter(gate_run__in=run_ids).count() == 11 * len(run_ids)
        assert not GateRun.objects.filter(pk__in=run_ids, attempts__gt=1).exists()
        verdicts = Counter(GateRun.objects.filter(pk__in=run_ids).values_list("state", flat=True))

        print("bench: audit verification...", flush=True)
        audit = audit_phase()
        print("bench: pages...", flush=True)
        pages = page_phase(admin, candidates, args.pages)
        report(
            args=args,
            seed_seconds=seed_seconds,
            gate=(g_start, g_done),
            floor=floor,
            audit=audit,
            verdicts=verdicts,
            pages=pages,
        )
    finally:
        if worker is not None:
            worker.stop()
        if not args.keep:
            database_destroy(configured)


if __name__ == "__main__":
    main()
