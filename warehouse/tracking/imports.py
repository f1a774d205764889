"""Importing a version's evidence from its tracked run: registering the version with its import queued,
running the import on a worker, retrying it, and rescuing imports the broker or a worker lost.

Like a gate run, an import is a database row first (RunImport, written with the version) and a message
after commit. The worker claims it with a conditional UPDATE, so a message delivered twice acts once, and
every write of an attempt is tied to that attempt: a worker whose lease ran out cannot overwrite the one
that took over. The evidence is written once, by `version_evidence_attach`, in the same transaction that
marks the import done; a failure writes no evidence at all.
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q

from warehouse import clock
from warehouse.accounts.permissions import model_access
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.evidence import MAX_ARTIFACTS, SHA256
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.services import version_evidence_attach, version_register_pending
from warehouse.registry.uris import tracked_source_match
from warehouse.tracking.importer import ImportRefused, run_evidence_fetch
from warehouse.tracking.mlflow_reader import MlflowReader, TrackingRefused, TrackingUnreachable
from warehouse.tracking.models import ImportState, RunImport, TrackingServer
from warehouse.tracking.selectors import tracking_server_for

logger = logging.getLogger(__name__)

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OPEN_STATES = (ImportState.QUEUED, ImportState.IMPORTING, ImportState.RETRYING)


# --- Registering from a run -----------------------------------------------------------------------------


def tracked_source_problems(
    *, server_name: str, run_id: str, source: str, expected_digests
) -> tuple[TrackingServer | None, dict[str, list[str]]]:
    """The configured server named `server_name` and what is wrong with the rest, every problem at once."""
    errors: dict[str, list[str]] = {}
    server = tracking_server_for(name=server_name) if isinstance(server_name, str) else None
    if server is None:
        errors["source_run.tracking_server"] = [
            f"No tracking server named {server_name!r} is configured; an administrator configures the "
            "servers Warehouse may read."
        ]
    match = tracked_source_match(source)
    if match is None:
        errors["source"] = [
            "Name the model as the tracking server does: runs:/<run id>/<path>, e.g. runs:/<run id>/model, "
            "or a logged model, models:/m-<id>."
        ]
    # A logged model names the run that made it: MLflow's client registers one without its run id.
    run_id_optional = match is not None and bool(match["model_id"]) and run_id in ("", None)
    if not run_id_optional and (not isinstance(run_id, str) or not RUN_ID.match(run_id)):
        errors["source_run.run_id"] = ["A run id: 1 to 64 letters, digits, hyphens and underscores."]
    elif match is not None and match["run_id"] and match["run_id"] != run_id:
        errors["source"] = [f"The source names run {match['run_id']}, not the run {run_id} given."]
    errors.update(_expected_digest_problems(expected_digests))
    return server, errors


def _expected_digest_problems(expected) -> dict[str, list[str]]:
    if not isinstance(expected, dict):
        return {"artifacts": ["Give the digests you computed as a list of {name, sha256}."]}
    if len(expected) > MAX_ARTIFACTS:
        return {"artifacts": [f"At most {MAX_ARTIFACTS} files."]}
    errors = {}
    for path, digest in expected.items():
        if not isinstance(digest, str) or not SHA256.match(digest):
            errors[f"artifacts.{path}"] = ["Must be 64 lower-case hexadecimal characters (a SHA-256 digest)."]
    return errors


def version_register_from_run(
    *,
    actor,
    model: RegisteredModel,
    server_name: str,
    run_id: str,
    source: str,
    description: str = "",
    expected_digests: dict[str, str] | None = None,
) -> ModelVersion:
    """Register the next version of `model` from a tracked run on a configured server: in Draft with its
    evidence pending, and its import queued, in the caller's transaction or one of its own. The worker then
    reads the run, hashes its files and writes the evidence once."""
    expected = {str(k): v.lower() if isinstance(v, str) else v for k, v in (expected_digests or {}).items()}
    server, errors = tracked_source_problems(
        server_name=server_name, run_id=run_id, source=source, expected_digests=expected
    )
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        version = version_register_pending(
            actor=actor, model=model, source_uri=source, run_id=run_id or "", description=description
        )
        run_import = RunImport.objects.create(
            version=version,
            server=server,
            run_id=run_id or "",
            source=source,
            expected_digests=expected,
            requested_by=actor,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="version.evidence_import_queued",
            target=version,
            target_label=version.identifier,
            model_name=model.name,
            data={"server": server.name, "run_id": run_id, "source": source, "expected_digests": expected},
        )
        transaction.on_commit(lambda: run_imports_publish(import_ids=[run_import.pk]), robust=True)
    return version


def run_import_retry(*, actor, version: ModelVersion) -> RunImport:
    """Queue a failed import again, from its first attempt. Needs the register permission on the model."""
    model_access(actor, version.model).require(
        "registry.register_version", attempted=f"retry the evidence import of {version.identifier}"
    )
    with transaction.atomic():
        run_import = RunImport.objects.select_for_update().filter(version=version).first()
        if run_import is None:
            raise Conflict(
                f"{version.identifier} was not registered from a tracked run; there is nothing to import.",
                code="no_import",
            )
        if run_import.state != ImportState.FAILED:
            raise Conflict(
                f"The import of {version.identifier} is {run_import.get_state_display().lower()}; only a "
                "failed import is retried.",
                code=f"import_{run_import.state}",
            )
        failed_with = {"code": run_import.failure_code, "error": run_import.last_error}
        run_import.state, run_import.attempts = ImportState.QUEUED, 0
        run_import.next_attempt_at, run_import.enqueued_at = clock.now(), None
        run_import.failure_code, run_import.last_error, run_import.notes = "", "", []
        run_import.bytes_done, run_import.bytes_total, run_import.finished_at = 0, None, None
        run_import.save()
        audit_record(
            actor=actor,
            action="version.evidence_import_retried",
            target=version,
            target_label=version.identifier,
            model_name=version.model.name,
            data={"server": run_import.server.name, "run_id": run_import.run_id, "failed_with": failed_with},
        )
        transaction.on_commit(lambda: run_imports_publish(import_ids=[run_import.pk]), robust=True)
    return run_import


# --- Publishing -----------------------------------------------------------------------------------------


def run_imports_publish(*, import_ids: list[int]) -> int:
    """Hand each import's id to the broker; stop at the first refusal (the sweeper sends the rest). Never
    raises: the registration that queued it is committed whatever the broker does."""
    from warehouse.tracking.tasks import run_import_execute_task

    published = []
    for import_id in import_ids:
        try:
            run_import_execute_task.apply_async(
                args=[import_id], retry=True, retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY
            )
        except Exception:  # noqa: BLE001 - any broker failure; the row is the record, the sweeper retries
            logger.warning(
                "Could not queue import %s; the sweeper will queue it again.", import_id, exc_info=True
            )
            break
        published.append(import_id)
    if published:
        RunImport.objects.filter(pk__in=published, state__in=OPEN_STATES).update(enqueued_at=clock.now())
    return len(published)


def run_imports_sweep() -> int:
    """Queue again what is due or lost: retries whose time has come, imports never queued or queued long
    ago and never claimed, and imports whose worker died (lease expired). Returns how many were queued."""
    now = clock.now()
    stale = now - timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
    waiting = Q(state__in=[ImportState.QUEUED, ImportState.RETRYING], next_attempt_at__lte=now) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)
    )
    lost = Q(state=ImportState.IMPORTING, lease_expires_at__lt=now)
    due = list(RunImport.objects.filter(waiting | lost).order_by("pk").values_list("pk", flat=True)[:500])
    return run_imports_publish(import_ids=due) if due else 0


# --- Running an import (the worker) ---------------------------------------------------------------------


def _claim(import_id: int) -> int | None:
    """Take the import if it is due, or importing on a lease that expired; return the attempt number."""
    now = clock.now()
    claimable = Q(state__in=[ImportState.QUEUED, ImportState.RETRYING], next_attempt_at__lte=now) | Q(
        state=ImportState.IMPORTING, lease_expires_at__lt=now
    )
    taken = RunImport.objects.filter(Q(pk=import_id) & claimable).update(
        state=ImportState.IMPORTING,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.IMPORT_LEASE_SECONDS),
        started_at=now,
        bytes_done=0,
        bytes_total=None,
    )
    if not taken:
        return None
    return RunImport.objects.values_list("attempts", flat=True).get(pk=import_id)


def _this_attempt(import_id: int, attempt: int):
    return RunImport.objects.filter(pk=import_id, state=ImportState.IMPORTING, attempts=attempt)


def run_import_execute(*, import_id: int) -> str | None:
    """Run one attempt of an import. Returns the state it left, or None when there was nothing to do
    (already done, not yet due, taken by a live worker, or gone)."""
    attempt = _claim(import_id)
    if attempt is None:
        return None
    run_import = RunImport.objects.select_related("server", "requested_by", "version", "version__model").get(
        pk=import_id
    )

    def progress(done: int, total: int | None) -> None:
        # Also renews the lease: a large download that is moving is not taken from its worker.
        lease = clock.now() + timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
        _this_attempt(import_id, attempt).update(bytes_done=done, bytes_total=total, lease_expires_at=lease)

    try:
        if not run_import.server.active:
            raise ImportRefused(
                f"The tracking server {run_import.server.name} was deactivated by an administrator.",
                code="server_inactive",
            )
        found = run_evidence_fetch(
            reader=MlflowReader(run_import.server), run_import=run_import, progress=progress
        )
    except TrackingUnreachable as error:
        return _failed_attempt(run_import, attempt, str(error))
    except (TrackingRefused, ImportRefused) as refusal:
        return _fail(run_import, attempt, refusal.code, str(refusal), getattr(refusal, "data", {}))
    except InvalidInput as invalid:
        message = "The run's evidence is not valid: " + "; ".join(
            f"{field}: {' '.join(problems)}" for field, problems in sorted(invalid.errors.items())
        )
        return _fail(run_import, attempt, "evidence_invalid", message, {"fields": invalid.errors})
    return _succeed(run_import, attempt, found)


def _succeed(run_import: RunImport, attempt: int, found) -> str | None:
    version = run_import.version
    try:
        with transaction.atomic():
            if not _this_attempt(run_import.pk, attempt).select_for_update().exists():
                return None  # the lease ran out and another worker took it over
            version_evidence_attach(actor=run_import.requested_by, version=version, evidence=found.evidence)
            _this_attempt(run_import.pk, attempt).update(
                state=ImportState.IMPORTED,
                lease_expires_at=None,
                finished_at=clock.now(),
                notes=list(found.notes),
                failure_code="",
                last_error="",
            )
            audit_record(
                actor=None,
                action="version.evidence_imported",
                target=version,
                target_label=version.identifier,
                model_name=version.model.name,
                data={
                    "server": run_import.server.name,
                    "run_id": run_import.run_id,
                    "attempt": attempt,
                    "files": len(found.evidence.artifacts),
                    "bytes": sum(a.size_bytes or 0 for a in found.evidence.artifacts),
                    "notes": list(found.notes),
                },
            )
    except PermissionDenied:
        return _fail(
            run_import,
            attempt,
            "registrant_lost_permission",
            f"{run_import.requested_by.get_username()}, who registered {version.identifier}, may no longer "
            "register versions of this model; the evidence was not written.",
            {},
        )
    except InvalidInput as invalid:
        return _fail(run_import, attempt, "evidence_invalid", str(invalid.errors), {"fields": invalid.errors})
    except Conflict as conflict:
        return _fail(run_import, attempt, conflict.code, conflict.message, {})
    return ImportState.IMPORTED


def retry_delay_seconds(attempts: int) -> int:
    delay = settings.IMPORT_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(delay, settings.IMPORT_RETRY_MAX_SECONDS)


def _failed_attempt(run_import: RunImport, attempt: int, error: str) -> str | None:
    """The server could not be read this time: try again later, or give up after the last attempt."""
    if attempt >= settings.IMPORT_MAX_ATTEMPTS:
        return _fail(
            run_import,
            attempt,
            "tracking_unreachable",
            f"Gave up after {attempt} attempts; the tracking server could not be read. Last: {error}",
            {},
        )
    next_at = clock.now() + timedelta(seconds=retry_delay_seconds(attempt))
    with transaction.atomic():
        done = _this_attempt(run_import.pk, attempt).update(
            state=ImportState.RETRYING,
            lease_expires_at=None,
            next_attempt_at=next_at,
            enqueued_at=None,
            failure_code="tracking_unreachable",
            last_error=error[:2000],
        )
        if done:
            _record_outcome(
                run_import,
                "version.evidence_import_deferred",
                {"attempt": attempt, "error": error[:2000], "next_attempt_at": next_at.isoformat()},
            )
    return ImportState.RETRYING if done else None


def _fail(run_import: RunImport, attempt: int, code: str, message: str, data: dict) -> str | None:
    with transaction.atomic():
        done = _this_attempt(run_import.pk, attempt).update(
            state=ImportState.FAILED,
            lease_expires_at=None,
            finished_at=clock.now(),
            failure_code=code[:64],
            last_error=message[:4000],
        )
        if done:
            _record_outcome(
                run_import,
                "version.evidence_import_failed",
                {"attempt": attempt, "code": code, "error": message[:4000], **data},
            )
    return ImportState.FAILED if done else None


def _record_outcome(run_import: RunImport, action: str, data: dict) -> None:
    version = run_import.version
    audit_record(
        actor=None,
        action=action,
        target=version,
        target_label=version.identifier,
        model_name=version.model.name,
        data={"server": run_import.server.name, "run_id": run_import.run_id, **data},
    )
