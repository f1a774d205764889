from django.core.management.base import BaseCommand

from warehouse.audit.services import acting_via
from warehouse.promotions.gates.services import gate_runs_sweep


class Command(BaseCommand):
    help = (
        "Queue again the gate runs the broker lost (never queued, queued too long ago, or running on an "
        "expired lease) and mark as error those that used all their attempts. Celery beat runs this every "
        "minute."
    )

    def handle(self, *args, **options):
        with acting_via("command"):
            report = gate_runs_sweep()
        self.stdout.write(
            f"Re-queued {report.republished}, gave up on {report.given_up}, "
            f"could not reach the broker for {report.publish_failed}."
        )
