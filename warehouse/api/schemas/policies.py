"""Promotion policies: the rules as a PUT sends them and as revisions store them (the same shape), and gate
runs with their check results."""

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_serializer

from warehouse.api.schemas.answers import Username, VersionId
from warehouse.api.schemas.common import Answer, Body, Link, Timestamp, text
from warehouse.cards.sections import Section
from warehouse.promotions.gates.comparison import SliceVerdict
from warehouse.promotions.models import CheckStatus, GateState
from warehouse.promotions.policies.rules import (
    OPERATORS,
    SECTION_FIELDS,
    SIGNOFF_ROLES,
    TRANSITIONS,
    Check,
    MissingSlices,
)
from warehouse.registry.evidence import METRIC_NAME, SLICE_KEY
from warehouse.registry.models import ArtifactKind

Finite = Annotated[float, Field(ge=-1e15, le=1e15)]
Amount = Annotated[float, Field(ge=0, le=1e15)]
MetricName = Annotated[str, Field(max_length=100, pattern=METRIC_NAME.pattern)]
CheckName = Literal[tuple(Check.ALL)]
SectionName = Literal[tuple(Section.values)]
SignoffRole = Literal[SIGNOFF_ROLES]
MoveUp = Literal["staging", "production"]


def _set_of(kind: Any, description: str = "") -> Any:
    return Field(None, json_schema_extra={"uniqueItems": True}, description=description or None)


class MetricBar(Body):
    """The candidate's own value must meet the bar: auc >= 0.80."""

    metric: MetricName
    op: Literal[OPERATORS]
    value: Finite


class BaselineRule(Body):
    """How much worse than the version in production the candidate may be on a metric."""

    metric: MetricName
    tolerance: Amount = 0
    relative: bool = Field(
        False, description="The tolerance is a fraction of production's value (0.02 is 2%)."
    )
    direction: Literal["higher", "lower"] | None = Field(
        None, description="Which way is better; null: as the candidate's evaluation says."
    )


class SliceRule(Body):
    scope: Literal["all", "listed"] = Field(
        "all", description="all: every slice both report; listed: only `slices`."
    )
    slices: list[Annotated[str, Field(pattern=SLICE_KEY.pattern)]] = Field(None, max_length=2000)
    metrics: list[MetricName] = Field(None, description="Empty: every metric reported per slice.")
    max_worsening: Amount = 0
    relative: bool = False
    min_samples: int = Field(
        100, ge=1, le=10**9, description="A slice with fewer samples is shown but not judged."
    )


class SignoffRule(Body):
    count: int = Field(1, ge=0, le=10)
    roles: list[SignoffRole] = Field(
        ["reviewer"], json_schema_extra={"uniqueItems": True}, description="Needed when count is above 0."
    )


class PolicySection(Body):
    """What one move up requires. Every field may be left out; `{}` means no extra rules."""

    required_checks: list[CheckName] = _set_of(
        CheckName, "Checks whose failure (or error) shuts the gate; the others are advisory. Left out: none."
    )
    required_artifact_kinds: list[Literal[tuple(ArtifactKind.values)]] = _set_of(str, "Left out: weights.")
    metric_bars: list[MetricBar] = Field(None, max_length=200)
    baseline: list[BaselineRule] = Field(
        None, max_length=200, description="Rules against the version in production; one per metric."
    )
    slices: SliceRule | None = None
    latency_p95_ms_max: Amount | None = Field(None, description="p95 latency budget in ms; null: none.")
    cost_per_1k_max: Amount | None = Field(None, description="Cost per 1,000 predictions; null: none.")
    required_card_sections: list[SectionName] = _set_of(SectionName)
    signoffs: SignoffRule = None
    allow_first_production: bool = Field(
        False, description="Staging → Production: allow a first production version, with no rollback target."
    )
    missing_slices: Literal[MissingSlices.ALL] = Field(
        None,
        description=(
            "What a slice production reports and the candidate does not means on this move: `fail` fails the "
            "slices check, `warn` makes it a warning. Missing is never counted as worse. Left out: warn for "
            "draft_to_staging, fail for staging_to_production."
        ),
    )


assert set(PolicySection.model_fields) == set(SECTION_FIELDS), "the schema lags behind the policy parser"


class PolicyRules(Body):
    """One section per move up. Problems are answered together in `error.fields`, keyed by their path inside
    the body (`rules.staging_to_production.metric_bars[0].op`). A metric or slice that no version reports is
    not an error: it is listed in `warnings`."""

    draft_to_staging: PolicySection
    staging_to_production: PolicySection


assert set(PolicyRules.model_fields) == set(TRANSITIONS), "the schema lags behind the policy's transitions"


class PolicyUpdate(Body):
    rules: PolicyRules
    reason: str = text(2000, min_length=1, multiline=True, description="Why the policy changes.")


class PolicyRevisionRef(Answer):
    scope: str = Field(description="The model's name, or `global` for the default.")
    number: int = Field(ge=1)
    url: Link = Field(description="The policy page at this revision, for people.")
    api_url: Link


class PolicyRevision(PolicyRevisionRef):
    author: str | None = Field(description="null for the built-in default.")
    created_at: Timestamp
    reason: str
    rules: dict[str, Any] = Field(description="The rules, as a PUT sends them (see PolicyRules).")


class Policy(Answer):
    model: str | None = Field(description="null on the global default.")
    applies: Literal["own", "global_default"] = Field(
        description="Whether the model has its own policy or the global default applies."
    )
    revision: PolicyRevision
    warnings: list[str] = Field(
        description="Metrics and slices the rules name that no version reports: likely typos."
    )


class SupersededRequest(Answer):
    """An open request the new revision closed: its move's rules changed, so its gate no longer holds."""

    id: int = Field(ge=1)
    model: str
    version: int = Field(ge=1)
    target_stage: Literal["staging", "production"]
    requested_by: str
    url: Link = Field(description="The request's page, for people.")
    api_url: Link


class PolicyRevised(Policy):
    superseded: list[SupersededRequest] = Field(
        description=(
            "The open requests this revision superseded: those for the moves whose rules it changed "
            "(their requesters are told, and `promotion.superseded` is sent). Requests for unchanged "
            "moves stay open."
        )
    )


# --- Gate runs ------------------------------------------------------------------------------------------


class GateRunRequest(Body):
    """The stage just above the version's: staging for a draft, production for staging."""

    target_stage: MoveUp


class Progress(Answer):
    done: int = Field(ge=0)
    total: int = Field(ge=0)


class Baseline(Answer):
    """The version in production the run compared against, recorded when it ran."""

    id: VersionId
    version: int = Field(ge=1)
    url: Link
    api_url: Link


class GateRun(Answer):
    id: int = Field(ge=1)
    model: str
    version: int = Field(ge=1)
    target_stage: MoveUp
    state: Literal[tuple(GateState.values)] = Field(
        description="pending (queued) and running are open; passed, failed and error are final."
    )
    progress: Progress
    requested_by: Username
    requested_at: Timestamp
    enqueued_at: Timestamp | None = Field(
        description="When the broker took it; null while the broker was unreachable (the sweeper retries)."
    )
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_seconds: float | None = Field(ge=0)
    attempts: int = Field(ge=0)
    error: str | None
    baseline: Baseline | None
    policy_revision: PolicyRevisionRef
    url: Link = Field(description="The gate run's page, for people.")
    api_url: Link


SliceVerdictName = Literal[SliceVerdict.ALL]


class SliceRow(Answer):
    """One slice result of the candidate or of production, as the slices check judged it."""

    slice: str
    metric: str
    value: float | None = Field(description="The candidate's value; null when it does not report the slice.")
    baseline: float | None = Field(description="Production's value; null when it does not report the slice.")
    samples: int = Field(ge=0, description="The smaller sample count of the two sides.")
    direction: Literal["higher", "lower"]
    delta: float | None = Field(description="candidate − production; null when either is missing.")
    worse_by: float | None = Field(description="How much worse in the metric's direction, when judged.")
    allowed: float | None = Field(description="How much worse the rule allows, when judged.")
    verdict: SliceVerdictName = Field(
        description=(
            "worse (beyond what the rule allows), within_tolerance, better, missing_from_candidate "
            "(production reports it, the candidate does not: never counted as worse), new_in_candidate "
            "(production does not report it), too_few_samples (not judged), not_checked (outside the rule)."
        )
    )


class CheckNumbers(Answer):
    """What a check compared. Each check records its own fields; the `slices` check lists every slice in
    `rows`."""

    model_config = ConfigDict(extra="allow", regex_engine="python-re")

    rows: list[SliceRow] = Field(None, description="The slices check only: every slice result, judged.")

    @model_serializer(mode="wrap")
    def _as_recorded(self, handler):
        # Only the slices check records rows: the other checks' numbers are answered as they were recorded.
        data = handler(self)
        if data.get("rows") is None:
            data.pop("rows", None)
        return data


class CheckResult(Answer):
    check: CheckName
    title: str
    status: Literal[tuple(CheckStatus.values)] = Field(
        description=(
            "not_configured: the policy sets no rule for the check, so nothing was judged; it is neither a "
            "pass nor a failure and blocks nothing, even when required."
        )
    )
    required: bool = Field(description="Whether the policy makes it block the gate.")
    summary: str = Field(max_length=500)
    numbers: CheckNumbers = Field(description="What the check compared, as it recorded it.")


class GateRunDetail(GateRun):
    results: list[CheckResult] = Field(
        description="Empty while the run is open: results are written all at once at the end."
    )


class GateRunList(Answer):
    count: int = Field(ge=0)
    results: list[GateRun] = Field(description="Newest first.")
