"""Model cards: a revision as it is sent and as it is answered, and the Model Card Toolkit export."""

from typing import Any, Literal

from pydantic import ConfigDict, Field

from warehouse.api.schemas.answers import StageName, VersionId
from warehouse.api.schemas.common import NO_NUL, OBJECT_TAG, TEXT_TAG, Answer, Body, Link, Timestamp, either
from warehouse.api.schemas.registration import CardDocument, CardSections
from warehouse.cards.interchange import TOOLKIT_SCHEMA_VERSION
from warehouse.cards.models import CardRevision
from warehouse.cards.sections import Section

CARD_SUMMARY_MAX = CardRevision._meta.get_field("summary").max_length
SectionName = Literal[tuple(Section.values)]

Sections = either(
    (CardSections, OBJECT_TAG),
    (CardDocument, TEXT_TAG),
    description="Required: the whole card, as an object of sections or as one Markdown document.",
)


class CardUpdate(Body):
    sections: Sections = Field(
        description=(
            "The whole card: every section the card keeps (a section left out, or empty, is emptied). An "
            "object of sections, or one Markdown document whose `## Heading`s name them, as at registration."
        )
    )
    summary: str = Field(
        "",
        max_length=CARD_SUMMARY_MAX,
        pattern=NO_NUL,
        description="What changed, in a line; shown in the card's history.",
    )


class Completeness(Answer):
    """Which sections are written, which are empty, and which required ones are missing."""

    filled: list[SectionName]
    empty: list[SectionName]
    required: list[SectionName] = Field(
        description=(
            "What the promotion policy in force requires for the version's next move up (for a version in "
            "Production or Archived, the move to Production)."
        )
    )
    missing: list[SectionName] = Field(description="Required sections that are empty: the check fails.")
    required_by: str = Field(description="Where the requirement comes from.")


class Exports(Answer):
    huggingface: Link
    toolkit: Link


class Card(Answer):
    model: str
    version: int = Field(ge=1)
    id: VersionId
    stage: StageName
    revision: int | None = Field(
        ge=1, description="The number of the current revision; null for a card never written."
    )
    author: str | None = Field(description="Username of the current revision's author.")
    created_at: Timestamp | None
    summary: str | None
    sections: dict[SectionName, str] = Field(
        description="The written sections, as Markdown, in reading order; empty ones are absent."
    )
    sections_html: dict[SectionName, str] = Field(
        description=(
            "Each written section rendered to HTML once, on write, and sanitised (no script, event handlers, "
            "frames or forms; links only http, https and mailto)."
        )
    )
    completeness: Completeness
    exports: Exports
    url: Link = Field(description="The card page, for people.")
    api_url: Link


class CardToolkit(Answer):
    """A Model Card Toolkit model card: `model_details` (name, overview, the whole written card as
    `documentation`, owners, version, the source run's https link, the weights' URI as `path`),
    `model_parameters.data` (the evaluation and training data), `quantitative_analysis.performance_metrics`
    (each overall metric with `slice` "", then each slice metric; values as strings) and `considerations`."""

    # The export is the toolkit's document, passed through whole.
    model_config = ConfigDict(extra="allow")

    schema_version: Literal[TOOLKIT_SCHEMA_VERSION]
    model_details: dict[str, Any]
    model_parameters: dict[str, Any] | None = None
    quantitative_analysis: dict[str, Any]
    considerations: dict[str, Any] | None = None
