"""Registering a version from a tracked run, and what the API answers about its evidence import."""

from typing import Literal

from pydantic import Field

from warehouse.api.schemas.common import Answer, Body, Link, Timestamp, text
from warehouse.registry.evidence import MAX_ARTIFACTS
from warehouse.registry.models import DESCRIPTION_MAX_LENGTH
from warehouse.tracking.models import ImportState


class TrackedRun(Body):
    tracking_system: Literal["mlflow"] = Field(description="The kind of tracking server.")
    tracking_server: str = text(
        64, min_length=1, description="The name an administrator gave the tracking server (e.g. mlflow-prod)."
    )
    run_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class ExpectedDigest(Body):
    name: str = text(
        500, min_length=1, description="The file's path inside the model's directory, e.g. model.pkl."
    )
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="The digest the pipeline computed.")


class RunRegistration(Body):
    """A candidate registered from its tracked run: its evidence is imported by the warehouse, which reads
    the run and hashes every file of the model itself. Unknown fields are refused."""

    source_run: TrackedRun
    source: str | None = Field(
        None,
        max_length=500,
        description=(
            "Where the model is in the run: runs:/<run id>/<path> or a logged model, models:/m-<id>. Left "
            "out: runs:/<run id>/model."
        ),
    )
    description: str | None = text(
        DESCRIPTION_MAX_LENGTH, multiline=True, default=None, description="What changed in this version."
    )
    artifacts: list[ExpectedDigest] | None = Field(
        None,
        max_length=MAX_ARTIFACTS,
        description=(
            "Digests the pipeline computed, to be checked against the warehouse's own: a difference fails "
            "the import, with both values on the record. Optional: the warehouse hashes every file anyway."
        ),
    )


class ImportFailure(Answer):
    code: str = Field(
        description=(
            "run_not_found, run_deleted, model_not_found, source_run_mismatch, digest_mismatch, size_limit, "
            "too_many_files, artifact_changed, evidence_invalid, tracking_unreachable, "
            "tracking_credential_refused, artifacts_not_proxied, server_inactive, registrant_lost_permission."
        )
    )
    message: str


class EvidenceImport(Answer):
    version: str = Field(description="model/v<number>.")
    state: Literal[tuple(ImportState.values)] = Field(
        description=(
            "queued, importing, retrying (the tracking server could not be read; tried again with backoff), "
            "imported (the evidence is written, once), failed (nothing written; POST …/import/retry)."
        )
    )
    tracking_server: str
    run_id: str
    source: str
    attempts: int = Field(ge=0)
    bytes_done: int = Field(ge=0, description="Bytes streamed and hashed in the current attempt.")
    bytes_total: int | None = Field(description="Bytes the model's files add up to, once listed.")
    failure: ImportFailure | None = Field(
        description="While retrying: why the last attempt failed; when failed: why."
    )
    notes: list[str] = Field(description="What the run held and the import left out, and why.")
    next_attempt_at: Timestamp | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    version_url: Link = Field(description="This API's URL of the version.")
