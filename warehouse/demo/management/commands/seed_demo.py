"""`manage.py seed_demo`: load the demo (warehouse/demo/data/) and print its sign-ins.

The model whose versions come from tracked runs is loaded as recorded, unless `--no-recorded-runs` leaves it
to `manage.py demo_tracked_runs`, which logs the runs on a live tracking server (`make run` does, when the
mlflow package is installed).

Idempotent: users and teams that exist are left as they are and a model that exists is not touched, so a
second run changes nothing. Refused with DEBUG off: the demo passwords are published in the README.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from warehouse.audit.services import acting_via
from warehouse.demo.loader import DemoDataError, demo_load, history_start
from warehouse.demo.sign_ins import DEMO_PASSWORD, sign_ins_table


class Command(BaseCommand):
    help = (
        "Load the demo: five teams' models with months of history, and one sign-in per role "
        f"(password {DEMO_PASSWORD!r}). Only with DEBUG on. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sign-ins-only", action="store_true", help="Only print the demo sign-ins; change nothing."
        )
        parser.add_argument(
            "--no-recorded-runs",
            action="store_true",
            help="Leave out the model recorded from tracked runs: demo_tracked_runs logs its runs for real.",
        )

    def handle(self, *args, sign_ins_only: bool = False, no_recorded_runs: bool = False, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to create demo users with DEBUG off: their passwords are published. "
                "The demo is for a laptop: run it with DEBUG=1 (make run does)."
            )
        if not sign_ins_only:
            self._load(recorded_runs=not no_recorded_runs)
        self.stdout.write("")
        self.stdout.write(f"Demo sign-ins (every account's password is {DEMO_PASSWORD!r}):")
        self.stdout.write("")
        self.stdout.write(sign_ins_table())

    def _load(self, *, recorded_runs: bool) -> None:
        try:
            with acting_via("command"), transaction.atomic():
                load = demo_load(start=history_start(timezone.now()), recorded_runs=recorded_runs)
        except DemoDataError as error:
            raise CommandError(f"The demo's data files: {error}") from error
        if not load.models:
            self.stdout.write("Demo data already present: nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS(f"Demo loaded: {', '.join(load.models)}."))
        for alert in load.alerts:
            self.stdout.write(
                f"A drift alert about {alert.model} is firing: open /go/{alert.model}. "
                f"Alert receiver {alert.receiver!r}, token (shown once): {alert.token}"
            )
