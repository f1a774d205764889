"""`manage.py demo_tracked_runs`: the demo's training pipeline, for real. Trains each version of the tracked
demo model (late-delivery-risk) with scikit-learn, logs it as a run on a configured MLflow tracking server and
registers the version from that run as the demo's contributor; a worker then imports its evidence.

Returns as soon as the versions are registered, without waiting for the worker (which may start later).
Idempotent: versions already registered are not logged again, so a second run changes nothing. Refused with
DEBUG off, like seed_demo, and when the tracked model holds the recorded runs already.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from warehouse.audit.services import acting_via
from warehouse.demo.loader import TrackedRunsRefused, tracked_versions_register


class Command(BaseCommand):
    help = (
        "Train the tracked demo model's versions, log them as runs on an MLflow tracking server and register "
        "them from their runs. Needs the mlflow package and scikit-learn, and the demo loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--server", default="mlflow-local", help="The configured tracking server to log the runs to."
        )

    def handle(self, *args, server: str, **options):
        if not settings.DEBUG:
            raise CommandError("The demo is for a laptop: run it with DEBUG=1 (make run does).")
        began = time.monotonic()
        try:
            with acting_via("command"):
                registered = tracked_versions_register(server_name=server, announce=self._say)
        except TrackedRunsRefused as refusal:
            raise CommandError(str(refusal)) from refusal
        if not registered:
            self.stdout.write(
                "The tracked demo model has its versions from tracked runs already: nothing to do."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {', '.join(v.identifier for v in registered)} from tracked runs in "
                f"{time.monotonic() - began:.1f} s."
            )
        )

    def _say(self, line: str) -> None:
        self.stdout.write(line)
