import re

from django.core.management.base import BaseCommand, CommandError

from warehouse.audit.chain import chain_verify
from warehouse.audit.selectors import audit_events_in_sequence

ANCHOR = re.compile(r"^(?P<sequence>[1-9][0-9]*):(?P<hash>[0-9a-f]{64})$")


class Command(BaseCommand):
    help = (
        "Walk the audit chain and name the first broken or missing sequence number. Exit code 1 when broken. "
        "A chain cannot show that its newest events were cut off; --anchor checks that against a head kept "
        "elsewhere (printed by every successful run)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="SEQUENCE:HASH",
            help="An event's sequence and hash recorded earlier; the trail must still hold it. Repeatable.",
        )

    def handle(self, *args, anchor, **options):
        anchors = []
        for text in anchor:
            match = ANCHOR.match(text.strip().lower())
            if match is None:
                raise CommandError(
                    f"--anchor {text!r}: write it as SEQUENCE:HASH (64 hexadecimal characters)."
                )
            anchors.append((int(match["sequence"]), match["hash"]))

        report = chain_verify(audit_events_in_sequence().iterator(chunk_size=2000))
        if not report.ok:
            self._broken(
                f"Audit chain BROKEN at sequence {report.broken_at}: {report.problem}. "
                f"{report.checked} events before it verified."
            )
        hashes = dict(
            audit_events_in_sequence()
            .filter(sequence__in=[seq for seq, _ in anchors])
            .values_list("sequence", "hash")
        )
        for sequence, expected in anchors:
            if sequence not in hashes:
                self._broken(
                    f"Audit chain CUT: anchored sequence {sequence} is gone; the trail ends at "
                    f"{report.checked}, so its newest events were removed."
                )
            if hashes[sequence] != expected:
                self._broken(f"Audit chain REWRITTEN: sequence {sequence} no longer has the anchored hash.")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))
        if report.checked:
            self.stdout.write(
                f"Head: {report.checked}:{report.head_hash}\n"
                "Keep the head outside this database (a ticket, a log); later, --anchor with it shows "
                "that no newer event was cut off."
            )

    def _broken(self, message: str):
        self.stderr.write(self.style.ERROR(message))
        raise SystemExit(1)
