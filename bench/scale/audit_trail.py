"""The audit trail page at scale: its latency on the trail of DATABASE_URL's database, signed in as an auditor
who sees everything and as a viewer who sees two models, for each kind of filter, rare and common.

    DATABASE_URL=postgres://…/warehouse_scale python -m bench.scale.audit_trail [--events 1000000]

It works on the database it is given (it does not make one of its own): it appends synthetic events until the
trail holds `--events` (bench.scale.audit_events), and adds the people and the two models it signs in with,
once. Each page is asked for `--calls` times through Django's test client (DEBUG off, the production
settings), after two warm-up calls: the median and 95th percentile of the whole request, and the median time
spent in its SQL queries; the 404 page is the floor (session, sign-in check and a template).
"""

import argparse
import statistics
import time
import warnings
from datetime import UTC, datetime, timedelta

from bench.common import environment

environment()
# The bench serves static/ as it is, like the tests: there is no collectstatic folder.
warnings.filterwarnings("ignore", "No directory at", UserWarning)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench.scale.audit_events import RARE_MODEL, RARE_PERSON, audit_events_append, synthetic_events  # noqa: E402
from warehouse.accounts.roles import Role  # noqa: E402
from warehouse.audit.models import AuditEvent  # noqa: E402
from warehouse.registry.models import RegisteredModel  # noqa: E402

VIEWER_MODELS = ("fraud-scorer", RARE_MODEL)


def grow(events: int) -> None:
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    if head < events:
        began = time.perf_counter()
        start = datetime.now(UTC) - timedelta(seconds=events - head)
        audit_events_append(synthetic_events(events - head, start=start))
        print(f"appended {events - head:,} events in {time.perf_counter() - began:.1f} s")


def people() -> tuple[User, User]:
    from tests.factories import model_create_for_tests, user_with_roles

    auditor = User.objects.filter(username="scale-auditor").first() or User.objects.create_superuser(
        "scale-auditor", "scale@example.com", "scale-auditor-password-1"
    )
    viewer = User.objects.filter(username="scale-viewer").first()
    if viewer is None:
        team, _ = Group.objects.get_or_create(name="scale-team")
        contributor = user_with_roles("scale-contributor", Role.CONTRIBUTOR, teams=(team,))
        for name in VIEWER_MODELS:
            if not RegisteredModel.objects.filter(name=name).exists():
                model_create_for_tests(actor=contributor, name=name, team=team)
        viewer = user_with_roles("scale-viewer", Role.VIEWER, teams=(team,))
    return auditor, viewer


def cases(head: int) -> list[tuple[str, dict]]:
    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).strftime("%Y-%m-%dT%H:%M")
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    return [
        ("newest page", {}),
        ("older page, half-way down", {"before": head // 2}),
        ("newer page, near the bottom", {"after": 1000}),
        ("model: fraud-scorer (1 in 200)", {"model": "fraud-scorer"}),
        (f"model: {RARE_MODEL} (rare)", {"model": "legacy-churn"}),
        ("actor: alice (1 in 33)", {"actor": "alice"}),
        (f"actor: {RARE_PERSON} (rare)", {"actor": "external"}),
        ("action: *.refused (1 in 1,000)", {"action": "*.refused"}),
        ("action: gate (common)", {"action": "gate"}),
        ("since an hour ago", {"since": an_hour_ago}),
        ("until six days ago", {"until": six_days_ago}),
        ("action *.refused, older page", {"action": "*.refused", "before": head // 2}),
    ]


class QueryClock:
    """The time a request spends in its SQL queries (all of them), apart from rendering."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began


def timed(client: Client, url: str, params: dict, calls: int) -> tuple[list[float], list[float], int]:
    for _ in range(2):
        response = client.get(url, params)
        assert response.status_code in (200, 404), (url, params, response.status_code)
    samples, in_sql = [], []
    for _ in range(calls):
        clock = QueryClock()
        with connection.execute_wrapper(clock):
            began = time.perf_counter()
            response = client.get(url, params)
            samples.append(time.perf_counter() - began)
        in_sql.append(clock.seconds)
    shown = response.content.count(b'<td class="num faint" data-label="#">')  # the events' rows
    return samples, in_sql, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=15)
    args = parser.parse_args()
    grow(args.events)
    auditor, viewer = people()
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    print(f"audit trail: {head:,} events\n")
    print(f"{'page':<44} {'reader':<8} {'shown':>5} {'median ms':>10} {'p95 ms':>8} {'SQL ms':>7}")
    for reader, user in (("auditor", auditor), ("viewer", viewer)):
        client = Client()
        client.force_login(user)
        rows = cases(head) if reader == "auditor" else cases(head)[:1] + cases(head)[3:5] + cases(head)[7:8]
        rows.append(("floor: the 404 page", {"_floor": 1}))
        for title, params in rows:
            url = "/models/no-such-model/" if "_floor" in params else reverse("audit-trail")
            samples, in_sql, shown = timed(client, url, params, args.calls)
            samples.sort()
            p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
            median, sql = statistics.median(samples) * 1000, statistics.median(in_sql) * 1000
            print(f"{title:<44} {reader:<8} {shown:>5} {median:>10.1f} {p95 * 1000:>8.1f} {sql:>7.1f}")


if __name__ == "__main__":
    main()
