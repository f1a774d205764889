"""Build one scale registry in the database of DATABASE_URL (PostgreSQL, migrated here):

    python -m bench.scale.seed --models 10000 [--templates 10] --summary FILE

TEMPLATES models through the services (bench.scale.templates), then copies of them to MODELS models
(bench.scale.clone) with their audit trail replayed through the chain (bench.scale.trail), then VACUUM and
ANALYZE as autovacuum does after such a load (the vacuum marks the pages all-visible, which index-only
scans need). FILE receives what the measuring side needs, as JSON: the rows made,
the seconds taken, a token of the signed-in reviewer, the model and the numbers its pages use.
"""

import argparse
import json
import sys
import time

from bench.common import environment

environment()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.scale.audit_events import audit_events_append  # noqa: E402
from bench.scale.clone import copies_make, sequences_reset, strides  # noqa: E402
from bench.scale.templates import VERSIONS, WIDE_SLICES, template_name, templates_build  # noqa: E402
from bench.scale.trail import copies_events, template_events  # noqa: E402
from warehouse.accounts.services import api_token_create  # noqa: E402
from warehouse.promotions.models import PromotionRequest  # noqa: E402
from warehouse.registry.models import ModelVersion  # noqa: E402

COPIES_AT_ONCE = 50  # a transaction's worth: about 50 x 10 x 240 rows of slices


def counts() -> dict[str, int]:
    tables = {
        "models": "registry_registeredmodel",
        "versions": "registry_modelversion",
        "slice metrics": "registry_slicemetric",
        "audit events": "audit_auditevent",
        "promotion requests": "promotions_promotionrequest",
    }
    with connection.cursor() as cursor:
        found = {}
        for label, table in tables.items():
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            found[label] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        found["database bytes"] = cursor.fetchone()[0]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, required=True)
    parser.add_argument("--templates", type=int, default=10)
    parser.add_argument("--summary", required=True)
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql" or args.models % args.templates:
        print("seed: needs PostgreSQL, and --models a multiple of --templates", file=sys.stderr)
        return 2
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    people = templates_build(args.templates)
    templates_seconds = time.perf_counter() - started
    stride, events = strides(), template_events()
    copies = args.models // args.templates - 1
    for first in range(1, copies + 1, COPIES_AT_ONCE):
        last = min(first + COPIES_AT_ONCE - 1, copies)
        copies_make(stride=stride, templates=args.templates, first=first, last=last)
        audit_events_append(
            copies_events(events=events, stride=stride, templates=args.templates, first=first, last=last)
        )
        print(f"seed: {(last + 1) * args.templates:,} of {args.models:,} models", file=sys.stderr, flush=True)
    sequences_reset()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    model = template_name(0)
    wide = ModelVersion.objects.select_related("evaluation").get(model__name=model, number=VERSIONS - 2)
    assert wide.evaluation.slices.count() == WIDE_SLICES, "the wide version is not where the bench looks"
    summary = {
        "rows": counts(),
        "seconds": {"templates": templates_seconds, "total": time.perf_counter() - started},
        "token": api_token_create(actor=people.reviewer, user=people.reviewer, name="scale bench").secret,
        "model": model,
        "wide_version": wide.number,
        "request": PromotionRequest.objects.filter(version__model__name=model).get().pk,
    }
    with open(args.summary, "w") as file:
        json.dump(summary, file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
