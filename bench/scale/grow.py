"""Grow the database of DATABASE_URL to a scale: `python -m bench.scale.grow --audit-events 1000000`.

The events are synthetic (bench.scale.audit_events.synthetic_events) and end about now, so what the running
registry records next comes after them in time as in sequence. The chain stays valid: `verify_audit` passes.
"""

import argparse
import os
import time
from datetime import UTC, datetime, timedelta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warehouse.settings")
    import django

    django.setup()
    from bench.scale.audit_events import audit_events_append, synthetic_events

    began = time.perf_counter()
    start = datetime.now(UTC) - timedelta(seconds=args.audit_events)
    written = audit_events_append(synthetic_events(args.audit_events, start=start), batch=args.batch)
    seconds = time.perf_counter() - began
    print(f"{written:,} audit events appended in {seconds:.1f} s ({written / seconds:,.0f}/s)")


if __name__ == "__main__":
    main()
