from django.core.management.base import BaseCommand

from warehouse.audit.chain import chain_verify
from warehouse.audit.selectors import audit_events_in_sequence


class Command(BaseCommand):
    help = "Walk the audit chain and name the first broken or missing sequence number. Exit code 1 when broken."

    def handle(self, *args, **options):
        report = chain_verify(audit_events_in_sequence().iterator(chunk_size=2000))
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))
            return
        self.stderr.write(
            self.style.ERROR(
                f"Audit chain BROKEN at sequence {report.broken_at}: {report.problem}. "
                f"{report.checked} events before it verified."
            )
        )
        raise SystemExit(1)
