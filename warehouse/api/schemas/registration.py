"""What a registration body may hold. The schema says what a schema can say; what it cannot (a URI path
walking out of its bucket, a slice given twice, a team that must exist, a metric whose direction is not well
known) the registration service says, and the API answers it with a 400 naming the field."""

import re
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import Field, ValidationError, model_validator

from warehouse.api.errors import fields_of
from warehouse.api.schemas.common import (
    NO_NUL,
    NUMBER_TAG,
    OBJECT_TAG,
    TEXT_TAG,
    Body,
    either,
    text,
)
from warehouse.cards.registration import registration_parse
from warehouse.cards.sections import Section
from warehouse.cards.services import MAX_SECTION_LENGTH
from warehouse.errors import InvalidInput
from warehouse.registry.evidence import (
    CURRENCY,
    DIRECTION_ALIASES,
    GIT_COMMIT,
    KNOWN_DIRECTIONS,
    MAX_ARTIFACTS,
    MAX_METRICS,
    MAX_SLICES,
    METRIC_NAME,
    SLICE_KEY,
    evidence_parse,
)
from warehouse.registry.field_reader import MAX_MAGNITUDE
from warehouse.registry.models import DESCRIPTION_MAX_LENGTH, ArtifactKind, MetricDirection

SHA256_IN = r"^(?:[0-9a-fA-F]{64})?$"  # the parser lower-cases; "" means "no digest"
DECIMAL_TEXT = r"^[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$"
MAX_COST = 100_000_000


def _case_insensitive(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


def _uri_pattern() -> str:
    schemes = "|".join(_case_insensitive(scheme) for scheme in settings.ARTIFACT_URI_SCHEMES)
    # A location after the scheme, no credentials, no spaces, control characters or backslashes.
    return rf"^(?:{schemes})://[^/?#@\x00-\x20\x7f\\]+(?:[/?#][^\x00-\x20\x7f\\]*)?$"


def _known(way: str) -> str:
    return ", ".join(sorted(name for name, known in KNOWN_DIRECTIONS.items() if known == way))


Kind = Literal[tuple(ArtifactKind.values)]
Direction = Literal[tuple(sorted(DIRECTION_ALIASES))]
Finite = Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE, description="A finite number.")]
Latency = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE)]
MetricName = Annotated[str, Field(max_length=100, pattern=METRIC_NAME.pattern)]
SectionText = Annotated[str, Field(max_length=MAX_SECTION_LENGTH, pattern=NO_NUL)]
CardDocument = Annotated[str, Field(max_length=MAX_SECTION_LENGTH * 4, pattern=NO_NUL)]


class ArtifactIn(Body):
    name: str = text(200, min_length=1, description="Unique among the version's artifacts.")
    kind: Kind
    uri: str = Field(
        max_length=2048,
        pattern=_uri_pattern(),
        description=(
            "Where the file is. Stored and shown, never fetched. Schemes: "
            f"{', '.join(f'{scheme}://' for scheme in settings.ARTIFACT_URI_SCHEMES)}. A location is "
            "required after the scheme; credentials (`user@`), spaces, control characters, backslashes, "
            "empty segments (`//`) and `.` or `..` segments in any percent-encoding are refused."
        ),
    )
    sha256: str | None = Field(
        None, pattern=SHA256_IN, description="The file's SHA-256 digest, 64 hexadecimal characters."
    )
    size_bytes: int | None = Field(None, ge=0, le=2**63 - 1)


class SourceRunIn(Body):
    tracking_system: str = text(50, min_length=1, examples=["mlflow", "wandb", "sagemaker", "vertex"])
    run_id: str = text(200, min_length=1)
    url: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^[hH][tT][tT][pP][sS]?:[^\x00-\x20\x7f]*$",
        description="A link to the run; only http:// and https:// are accepted.",
    )
    git_commit: str | None = Field(
        None,
        pattern=f"(?:{GIT_COMMIT.pattern})|^$",
        description="7 to 64 lower-case hexadecimal characters.",
    )
    training_data: str | None = text(2048, default=None, description="A reference to the training data.")


class MetricIn(Body):
    name: MetricName
    value: Finite
    direction: Direction | None = Field(
        None,
        description=(
            "Which way is better. May be left out only for metrics whose direction is well known: higher is "
            f"better for {_known(MetricDirection.HIGHER_IS_BETTER)}; lower is better for "
            f"{_known(MetricDirection.LOWER_IS_BETTER)}."
        ),
    )


class SliceIn(Body):
    slice: str = Field(
        max_length=200,
        pattern=SLICE_KEY.pattern,
        description="key=value, several joined by commas: region=EU,device=mobile.",
    )
    metric: MetricName
    value: Finite
    sample_count: int = Field(ge=1)


class EvaluationIn(Body):
    dataset: str = text(200, min_length=1)
    dataset_version: str | None = text(100, default=None)
    metrics: list[MetricIn] = Field(max_length=MAX_METRICS, description="Overall metrics; names are unique.")
    slices: list[SliceIn] | None = Field(
        None, max_length=MAX_SLICES, description="Metrics per slice; each (slice, metric) pair at most once."
    )


Cost = either(
    (Annotated[float, Field(ge=0, lt=MAX_COST)], NUMBER_TAG),
    (Annotated[str, Field(pattern=DECIMAL_TEXT)], TEXT_TAG),
    description="A number, or a decimal string.",
)


class ProfileIn(Body):
    latency_p50_ms: Latency
    latency_p95_ms: Latency
    latency_p99_ms: Latency = Field(description="Percentiles must not decrease: p50 ≤ p95 ≤ p99.")
    hardware: str | None = text(200, default=None)
    throughput_rps: Latency | None = None
    cost_per_1k_predictions: Cost | None = Field(
        None,
        description="Cost of 1,000 predictions, kept to 6 decimal places; a decimal string keeps it exact.",
    )
    currency: str | None = Field(None, pattern=CURRENCY.pattern, description="Left out: USD.")


class CardSections(Body):
    """The written sections of the card, each Markdown. Empty sections are left out."""

    task: SectionText = None
    intended_users: SectionText = None
    decision_influenced: SectionText = None
    out_of_scope: SectionText = None
    data_summary: SectionText = None
    evaluation_notes: SectionText = None
    known_failures: SectionText = None
    latency_cost_notes: SectionText = None
    ethical_considerations: SectionText = None
    owners_contacts: SectionText = None


assert set(CardSections.model_fields) == set(Section.values), "the card's schema lags behind its sections"

Card = either(
    (CardSections, OBJECT_TAG),
    (CardDocument, TEXT_TAG),
    description="Give the card as Markdown text or as an object of sections.",
)


class NewModelInfo(Body):
    """Used only when this registration creates the model, ignored for an existing one; checked either way
    (a team that does not exist is refused)."""

    description: str | None = Field(None, max_length=DESCRIPTION_MAX_LENGTH, pattern=NO_NUL)
    team: str | None = Field(None, description="The name of an existing team.")


class Evidence(Body):
    """A version's evidence: its artifacts, source run, evaluation and profile, and what changed in it.
    Immutable once written. Unknown fields are refused at every level. Optional fields may be left out or
    given as null. Every problem is listed at once in `error.fields`, keyed by its path
    (`artifacts[0].sha256`,
    `evaluation.slices[3]`)."""

    description: str | None = text(
        DESCRIPTION_MAX_LENGTH,
        multiline=True,
        default=None,
        description="What changed in this version (Markdown is not rendered).",
    )
    artifacts: list[ArtifactIn] = Field(
        min_length=1,
        max_length=MAX_ARTIFACTS,
        description="The files that make up the version; at least the weights. Names are unique.",
    )
    source_run: SourceRunIn | None = None
    evaluation: EvaluationIn | None = None
    profile: ProfileIn | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _in_the_registrys_words(cls, data, handler):
        # When the schema refuses, the registry's own parser names every problem at once (the duplicates and
        # sums a schema cannot see among them), in the same words as the register page's.
        try:
            return handler(data)
        except ValueError:
            evidence_parse(data)
            raise


class Registration(Evidence):
    """A candidate version with its evidence and first card, registered in Draft in one transaction.
    Evidence (artifacts, source run, evaluation, profile) is immutable once registered. Unknown fields are
    refused at every level. Optional fields may be left out or given as null. Every problem is listed at once
    in `error.fields`, keyed by its path (`artifacts[0].sha256`, `evaluation.slices[3]`, `card.summary`)."""

    card: Card | None = Field(
        None,
        description=(
            "The first model card: an object of sections, or one Markdown document whose `## Heading`s name "
            "the sections (text before the first known heading is the task; an unknown heading stays, with "
            "its text, in the section it falls in)."
        ),
    )
    model: NewModelInfo | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _in_the_registrys_words(cls, data, handler):
        # The register page reads the same body with `registration_parse`: when it refuses too, its answer
        # is the API's, in the same words as the page's.
        try:
            return handler(data)
        except ValueError:
            registration_parse(data)
            raise


def registration_schema_read(document: Any) -> dict:
    """A parsed JSON body read by this schema as the register endpoint reads it, and dumped as the endpoint
    hands it to `registration_parse`; or InvalidInput with the endpoint's field messages. Lent to the
    register page (cards.registration), which takes the same body pasted or uploaded."""
    try:
        body = Registration.model_validate(document)
    except ValidationError as error:
        # Located as ninja locates a body's errors: the source, then the argument that holds the body.
        located = [{**found, "loc": ("body", "body", *found["loc"])} for found in error.errors()]
        raise InvalidInput(fields_of(located)) from None
    return body.model_dump(exclude_unset=True)
