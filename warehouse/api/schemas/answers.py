"""What the API answers about models, versions and production, and its error envelope."""

from typing import Annotated, Literal

from pydantic import Field

from warehouse.api.schemas.common import VERSION_ID, Answer, Link, Timestamp
from warehouse.registry.listing import COUNT_LIMIT
from warehouse.registry.models import ArtifactKind, MetricDirection, Stage

StageName = Literal[tuple(Stage.values)]
Username = Annotated[str, Field(description="Username.")]
VersionId = Annotated[
    str, Field(pattern=VERSION_ID, examples=["fraud-scorer/v7"], description="Stable id: model/v<number>.")
]


class ErrorDetail(Answer):
    code: str = Field(description="Machine-readable; stable within v1.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    fields: dict[str, Annotated[list[str], Field(min_length=1)]] | None = Field(
        None,
        description=(
            "Only on 400: each bad field by its path (`artifacts[0].sha256`, `card.summary`, `body` for the "
            "body as a whole, `model` for the name in the URL) and why."
        ),
    )


class Error(Answer):
    """Every error: 400 (bad input, nothing written), 401 (no or bad credentials), 403 (not allowed; recorded
    in the audit trail), 404 (no such thing, or not visible to the caller), 405 (see the Allow header), 409
    (the current state refuses it)."""

    error: ErrorDetail


class Model(Answer):
    name: str
    description: str
    owner: Username
    team: str | None
    created_at: Timestamp
    production_version: int | None = Field(description="The number of the version in production, if any.")
    version_count: int = Field(ge=0)
    url: Link = Field(description="The model's page, for people.")


class Listing(Answer):
    """What every paged list answers beside its rows."""

    count: int = Field(
        ge=0,
        description=(
            f"How many match, on all pages: exact up to {COUNT_LIMIT:,}; past that {COUNT_LIMIT:,}, with "
            "`count_exact` false."
        ),
    )
    count_exact: bool = Field(
        description=f"False when more than {COUNT_LIMIT:,} match: `count` is then a floor, not the number."
    )
    next: Link | None = Field(
        description=(
            "The next page's absolute URL (the same parameters, with `cursor`): follow it until it is null, "
            "on the last page."
        )
    )


class ModelList(Listing):
    page: int | None = Field(
        ge=1,
        description=(
            "The numbered form's page (asked with `page`, or the first page when neither `page` nor "
            "`cursor` is sent); null on a page reached through a cursor."
        ),
    )
    pages: int | None = Field(
        ge=1,
        description="How many numbered pages of `page_size` there are (within the count); null as `page`.",
    )
    results: list[Model] = Field(description="Sorted by name, at most `page_size` (50 unless asked).")


class VersionSummary(Answer):
    id: VersionId
    uuid: str = Field(json_schema_extra={"format": "uuid"})
    model: str
    version: int = Field(ge=1)
    stage: StageName
    stage_changed_at: Timestamp
    registered_by: Username
    created_at: Timestamp
    rollback_target: str | None = Field(
        description="While in production: the version a rollback returns to (model/v<n>)."
    )
    url: Link = Field(description="The version's page, for people.")
    evidence: Literal["attached", "pending"] = Field(
        description=(
            "`pending`: registered with only its source (as through MLflow's registry API), without digests, "
            "evaluation or profile; the gate fails it and it stays out of Staging and Production until the "
            "evidence is attached with PUT …/versions/<n>/evidence."
        )
    )


class VersionList(Listing):
    results: list[VersionSummary] = Field(description="Newest first, at most `page_size` (50 unless asked).")


class RollbackResult(Answer):
    production: VersionSummary = Field(description="The target, in production again.")
    rolled_back: VersionSummary = Field(description="The version rolled back, archived.")
    mitigated: list[int] = Field(
        description=(
            "The incidents this rollback marked mitigated: every incident about the model that was firing "
            "(status `mitigated` until the alerting system resolves the alert). Each is on the audit trail "
            "as `incident.mitigated`."
        ),
        examples=[[17]],
    )


class Artifact(Answer):
    name: str
    kind: Literal[tuple(ArtifactKind.values)]
    uri: str
    sha256: str | None = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(ge=0)


class SourceRun(Answer):
    tracking_system: str
    run_id: str
    url: str | None
    git_commit: str | None
    training_data: str | None


class Metric(Answer):
    name: str
    value: float
    direction: Literal[tuple(MetricDirection.values)]


class SliceMetric(Answer):
    slice: str
    metric: str
    value: float
    sample_count: int = Field(ge=1)


class Evaluation(Answer):
    dataset: str
    dataset_version: str | None
    metrics: list[Metric]
    slices: list[SliceMetric]


class Profile(Answer):
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    hardware: str | None
    throughput_rps: float | None
    cost_per_1k_predictions: str | None = Field(
        pattern=r"^[0-9]+\.[0-9]{6}$", description="A decimal string, exact to 6 places."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class VersionDetail(VersionSummary):
    description: str
    source_uri: str | None = Field(
        description="Where the files are, as given when registered without evidence. Stored, never fetched."
    )
    run_id: str | None = Field(description="The tracked run, as given when registered without evidence.")
    artifacts: list[Artifact]
    source_run: SourceRun | None
    evaluation: Evaluation | None
    profile: Profile | None


class Production(Answer):
    """What the serving systems load."""

    model: str
    version: int = Field(ge=1)
    id: VersionId
    uuid: str = Field(json_schema_extra={"format": "uuid"})
    stage: Literal["production"]
    in_production_since: Timestamp
    rollback_target: str | None = Field(description="The version a rollback returns to (model/v<n>), if any.")
    artifacts: list[Artifact] = Field(description="What to load: each artifact's URI and SHA-256 digest.")
