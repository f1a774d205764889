import re
import resource
import sys

from django.core.management.base import BaseCommand, CommandError

from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.audit.verification import Progress, VerifyRun, chain_verify_stored

ANCHOR = re.compile(r"^(?P<sequence>[1-9][0-9]*):(?P<hash>[0-9a-f]{64})$")
MB = 1_000_000


class Command(BaseCommand):
    help = (
        "Walk the audit chain and name the first broken or missing sequence number. Exit code 1 when broken. "
        "A chain cannot show that its newest events were cut off; --anchor checks that against a head kept "
        "elsewhere (printed by every successful run). Reports its progress on stderr every few seconds and, "
        "at the end, its speed next to the speed of hashing the same events alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="SEQUENCE:HASH",
            help="An event's sequence and hash recorded earlier; the trail must still hold it. Repeatable.",
        )
        parser.add_argument(
            "--quiet", action="store_true", help="Print the verdict and the head only: no progress, no speed."
        )
        parser.add_argument(
            "--progress-every",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="How often to report progress on stderr (default 5 s).",
        )

    def handle(self, *args, anchor, quiet, progress_every, **options):
        anchors = []
        for text in anchor:
            match = ANCHOR.match(text.strip().lower())
            if match is None:
                raise CommandError(
                    f"--anchor {text!r}: write it as SEQUENCE:HASH (64 hexadecimal characters)."
                )
            anchors.append((int(match["sequence"]), match["hash"]))

        run = chain_verify_stored(progress=None if quiet else self._progress, every_seconds=progress_every)
        report = run.report
        if not report.ok:
            self._broken(
                f"Audit chain BROKEN at sequence {report.broken_at}: {report.problem}. "
                f"{report.checked} events before it verified."
            )
        self._check_anchors(anchors, report.checked)
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))
        if report.checked:
            self.stdout.write(
                f"Head: {report.checked}:{report.head_hash}\n"
                "Keep the head outside this database (a ticket, a log); later, --anchor with it shows "
                "that no newer event was cut off."
            )
        if not quiet and report.checked:
            self.stdout.write(_speed(run))

    def _check_anchors(self, anchors: list[tuple[int, str]], checked: int) -> None:
        hashes = dict(
            audit_events_in_sequence()
            .filter(sequence__in=[seq for seq, _ in anchors])
            .values_list("sequence", "hash")
        )
        for sequence, expected in anchors:
            if sequence not in hashes:
                self._broken(
                    f"Audit chain CUT: anchored sequence {sequence} is gone; the trail ends at "
                    f"{checked}, so its newest events were removed."
                )
            if hashes[sequence] != expected:
                self._broken(f"Audit chain REWRITTEN: sequence {sequence} no longer has the anchored hash.")

    def _progress(self, progress: Progress) -> None:
        self.stderr.write(
            f"verify_audit: {progress.checked:,} events checked in {progress.seconds:.0f} s "
            f"({progress.checked / progress.seconds:,.0f} events/s)"
        )

    def _broken(self, message: str):
        self.stderr.write(self.style.ERROR(message))
        raise SystemExit(1)


def _peak_rss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (MB if sys.platform == "darwin" else 1000)


def _speed(run: VerifyRun) -> str:
    mb_rate = run.hashed_bytes / MB / run.seconds if run.seconds else 0.0
    hash_mb_rate = run.sample_bytes / MB / run.sample_seconds if run.sample_seconds else 0.0
    ratio = run.rate / run.hash_rate if run.hash_rate else 0.0
    return (
        f"Speed: {run.rate:,.0f} events/s, {mb_rate:.1f} MB/s of hashed content "
        f"({run.report.checked:,} events in {run.seconds:.1f} s, reading included); "
        f"hashing alone: {run.hash_rate:,.0f} events/s, {hash_mb_rate:.1f} MB/s "
        f"(the same computation again over {run.sample_rows:,} of these events, in memory); "
        f"ratio {ratio:.2f}. Peak memory: {_peak_rss_mb():.0f} MB."
    )
