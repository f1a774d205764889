"""The worker's reading of a tracked run: find the model's files, hash every byte of them through the
tracking server's artifact proxy, and read the run's evidence. Writes nothing but progress.

Digests are the warehouse's own: each file is streamed and hashed here, never taken from the pipeline or
the server. A digest the pipeline sent is compared with ours, and a difference fails the import with both.
"""

import hashlib
import json
import time
from collections.abc import Callable

from django.conf import settings

from warehouse.registry.evidence import MAX_ARTIFACTS
from warehouse.registry.uris import tracked_source_match
from warehouse.tracking.mlflow_reader import ListedFile, MlflowReader, TrackingRefused
from warehouse.tracking.models import RunImport
from warehouse.tracking.run_evidence import EVALUATION_ARTIFACT, HashedFile, RunEvidence, run_evidence_read

EVALUATION_MAX_BYTES = 8 * 1024 * 1024
# How often a download reports its progress (and renews its lease), at most.
PROGRESS_EVERY_SECONDS = 0.5

Progress = Callable[[int, int | None], None]


class ImportRefused(Exception):
    """The run cannot give this version its evidence, and asking again will not change that."""

    def __init__(self, message: str, *, code: str, data: dict | None = None):
        super().__init__(message)
        self.code = code
        self.data = data or {}


def run_evidence_fetch(*, reader: MlflowReader, run_import: RunImport, progress: Progress) -> RunEvidence:
    match = tracked_source_match(run_import.source)
    if match is None:
        raise ImportRefused(f"{run_import.source} is not a tracked model.", code="source_invalid")
    logged_model = _logged_model_read(reader, match["model_id"]) if match["model_id"] else None
    if logged_model is not None and not run_import.run_id:
        # MLflow's client registers a logged model without its run: the model names the run that made it.
        run_import.run_id = str((logged_model.get("info") or {}).get("source_run_id") or "")
        RunImport.objects.filter(pk=run_import.pk, run_id="").update(run_id=run_import.run_id)
    run = _run_read(reader, run_import.run_id, run_import.server.name)
    info = run.get("info") or {}
    model_root = (
        _logged_model_root(logged_model, match["model_id"], run_import.run_id)
        if logged_model is not None
        else _run_model_root(reader, run, run_import.run_id, match["path"])
    )
    listed = reader.files_list(model_root)
    _bounds_check(listed, model_root)
    missing = sorted(set(run_import.expected_digests) - {f.path for f in listed})
    if missing:
        raise ImportRefused(
            f"The pipeline sent digests for {', '.join(missing)}, which the model at {run_import.source} "
            "does not have.",
            code="expected_file_missing",
            data={"missing": missing},
        )
    hashed = _hash_all(reader, model_root, listed, progress)
    _unchanged_check(reader, model_root, listed)
    _expected_digests_check(run_import.expected_digests, hashed)
    return run_evidence_read(
        run=run,
        run_url=f"{reader.base}/#/experiments/{info.get('experiment_id', '')}/runs/{run_import.run_id}",
        model_root=model_root,
        files=hashed,
        evaluation_document=_evaluation_document(reader, info.get("artifact_uri", "")),
        description=run_import.version.description,
    )


def _run_read(reader: MlflowReader, run_id: str, server_name: str) -> dict:
    try:
        run = reader.run_get(run_id)
    except TrackingRefused as refusal:
        if refusal.code == "not_found":
            raise ImportRefused(
                f"The run {run_id} does not exist on the tracking server {server_name}.", code="run_not_found"
            ) from refusal
        raise
    info = run.get("info") or {}
    if info.get("run_id") not in (run_id, None) and info.get("run_uuid") != run_id:
        raise ImportRefused(f"The server answered for another run than {run_id}.", code="run_not_found")
    if info.get("lifecycle_stage") == "deleted":
        raise ImportRefused(
            f"The run {run_id} was deleted on the tracking server {server_name}; restore it there, then "
            "retry the import.",
            code="run_deleted",
        )
    return run


def _run_model_root(reader: MlflowReader, run: dict, run_id: str, path: str) -> str:
    """The mlflow-artifacts URI of the model at `path` of the run: files under that path of the run's
    artifacts, or the run's logged model of that name (where MLflow 3 keeps a model logged by a run)."""
    root = f"{(run.get('info') or {}).get('artifact_uri', '').rstrip('/')}/{path}"
    if _listing_or_nothing(reader, root):
        return root
    for output in (run.get("outputs") or {}).get("model_outputs") or []:
        model_id = output.get("model_id") if isinstance(output, dict) else None
        if not model_id:
            continue
        model = _logged_model_read(reader, model_id)
        if (model.get("info") or {}).get("name") == path:
            return _logged_model_root(model, model_id, run_id)
    raise ImportRefused(
        f"The run {run_id} has no model at {path!r}: neither files under that path nor a logged model of "
        "that name.",
        code="model_not_found",
    )


def _listing_or_nothing(reader: MlflowReader, root: str) -> list[ListedFile]:
    try:
        return reader.files_list(root)
    except TrackingRefused as refusal:
        if refusal.code == "not_found":
            return []
        raise


def _logged_model_read(reader: MlflowReader, model_id: str) -> dict:
    try:
        return reader.logged_model_get(model_id)
    except TrackingRefused as refusal:
        if refusal.code == "not_found":
            raise ImportRefused(
                f"The logged model {model_id} does not exist.", code="model_not_found"
            ) from None
        raise


def _logged_model_root(model: dict, model_id: str, run_id: str) -> str:
    info = model.get("info") or {}
    if info.get("source_run_id") != run_id:
        raise ImportRefused(
            f"The logged model {model_id} was made by run {info.get('source_run_id') or '(none)'}, "
            f"not by the run {run_id} given.",
            code="source_run_mismatch",
        )
    return str(info.get("artifact_uri") or "")


def _bounds_check(listed: list[ListedFile], model_root: str) -> None:
    if not listed:
        raise ImportRefused(f"There are no files at {model_root}.", code="model_not_found")
    if len(listed) > MAX_ARTIFACTS:
        raise ImportRefused(
            f"The model has {len(listed)} files; a version holds at most {MAX_ARTIFACTS}.",
            code="too_many_files",
        )
    total = sum(f.size or 0 for f in listed)
    if total > settings.IMPORT_MAX_BYTES:
        raise ImportRefused(
            f"The model's files add up to {total:,} bytes, over this warehouse's limit of "
            f"{settings.IMPORT_MAX_BYTES:,} (WAREHOUSE_IMPORT_MAX_BYTES).",
            code="size_limit",
            data={"bytes": total, "limit": settings.IMPORT_MAX_BYTES},
        )


def _hash_all(
    reader: MlflowReader, root: str, listed: list[ListedFile], progress: Progress
) -> list[HashedFile]:
    total = sum(f.size or 0 for f in listed)
    done, last_report = 0, 0.0
    progress(0, total)
    hashed = []
    for listed_file in listed:
        digest, size = hashlib.sha256(), 0
        for chunk in reader.file_stream(root, listed_file.path):
            digest.update(chunk)
            size += len(chunk)
            done += len(chunk)
            if done > settings.IMPORT_MAX_BYTES:
                raise ImportRefused(
                    f"The model's files grew past this warehouse's limit of {settings.IMPORT_MAX_BYTES:,} "
                    "bytes while they were read.",
                    code="size_limit",
                    data={"bytes": done, "limit": settings.IMPORT_MAX_BYTES},
                )
            if time.monotonic() - last_report >= PROGRESS_EVERY_SECONDS:
                progress(done, total)
                last_report = time.monotonic()
        if listed_file.size is not None and size != listed_file.size:
            raise _changed(listed_file.path, listed_file.size, size)
        hashed.append(HashedFile(path=listed_file.path, sha256=digest.hexdigest(), size=size))
    progress(done, total)
    return hashed


def _changed(path: str, listed: int, read: int) -> ImportRefused:
    return ImportRefused(
        f"{path} changed while it was read ({listed:,} bytes listed, {read:,} read). A model's files "
        "must not change once logged; retry the import when the run is finished.",
        code="artifact_changed",
        data={"path": path, "listed_bytes": listed, "read_bytes": read},
    )


def _unchanged_check(reader: MlflowReader, root: str, before: list[ListedFile]) -> None:
    """The files hashed are the files listed: a file added, removed or resized meanwhile fails the import."""
    after = {f.path: f.size for f in reader.files_list(root)}
    for listed in before:
        if after.get(listed.path, -1) != listed.size:
            raise _changed(listed.path, listed.size or 0, after.get(listed.path, 0) or 0)
    added = sorted(set(after) - {f.path for f in before})
    if added:
        raise ImportRefused(
            f"Files were added to the model while it was read: {', '.join(added[:10])}.",
            code="artifact_changed",
            data={"added": added},
        )


def _expected_digests_check(expected: dict[str, str], hashed: list[HashedFile]) -> None:
    ours = {f.path: f.sha256 for f in hashed}
    mismatches = [
        {"path": path, "sent": sent, "computed": ours[path]}
        for path, sent in sorted(expected.items())
        if ours.get(path) != sent
    ]
    if mismatches:
        described = "; ".join(f"{m['path']}: sent {m['sent']}, computed {m['computed']}" for m in mismatches)
        raise ImportRefused(
            f"The digests the pipeline sent do not match the files' bytes ({described}).",
            code="digest_mismatch",
            data={"mismatches": mismatches},
        )


def _evaluation_document(reader: MlflowReader, run_artifact_uri: str) -> dict | None:
    """The run's warehouse/evaluation.json, or None when the run has none."""
    folder, _, name = EVALUATION_ARTIFACT.rpartition("/")
    listed = _listing_or_nothing(reader, f"{run_artifact_uri.rstrip('/')}/{folder}")
    entry = next((f for f in listed if f.path == name), None)
    if entry is None:
        return None
    if (entry.size or 0) > EVALUATION_MAX_BYTES:
        raise ImportRefused(
            f"{EVALUATION_ARTIFACT} is {entry.size:,} bytes; at most {EVALUATION_MAX_BYTES:,}.",
            code="evidence_invalid",
        )
    body = b"".join(reader.file_stream(f"{run_artifact_uri.rstrip('/')}/{folder}", name))
    try:
        document = json.loads(body)
    except ValueError as error:
        raise ImportRefused(f"{EVALUATION_ARTIFACT} is not JSON: {error}", code="evidence_invalid") from None
    if not isinstance(document, dict):
        raise ImportRefused(f"{EVALUATION_ARTIFACT} must hold a JSON object.", code="evidence_invalid")
    return document
