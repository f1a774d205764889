"""The OpenAPI 3.1 document of /api/v1/, written by hand so it says exactly what the views do.

Limits, patterns and choices are read from the parsers' own constants (`registry.evidence`,
`cards.services`, `cards.sections`), so the document cannot drift from what a registration accepts. What a
schema cannot say (a URI path walking out of its bucket, a slice given twice, a team that must exist, a
metric whose direction is not well known) is said in the descriptions, and the API answers it with a 400
naming the field. The contract tests (tests/api/test_openapi.py) hold the document to the routes and to the
answers of the real endpoints.
"""

import copy
import re

from django.conf import settings

from warehouse.api.http import MAX_BODY_BYTES
from warehouse.cards.interchange import TOOLKIT_SCHEMA_VERSION
from warehouse.cards.models import CardRevision
from warehouse.cards.sections import Section
from warehouse.cards.services import MAX_SECTION_LENGTH
from warehouse.promotions.models import Decision, GateState, RequestState
from warehouse.promotions.policies.rules import OPERATORS, SECTION_FIELDS, SIGNOFF_ROLES, TRANSITIONS, Check
from warehouse.promotions.requests.services import JUSTIFICATION_MAX
from warehouse.registry.evidence import (
    CURRENCY,
    DIRECTION_ALIASES,
    GIT_COMMIT,
    KNOWN_DIRECTIONS,
    MAX_ARTIFACTS,
    MAX_MAGNITUDE,
    MAX_METRICS,
    MAX_SLICES,
    METRIC_NAME,
    SLICE_KEY,
)
from warehouse.registry.models import DESCRIPTION_MAX_LENGTH, ArtifactKind, MetricDirection, Stage
from warehouse.registry.services import MODEL_NAME, RESERVED_MODEL_NAMES

# Text on one line, and text that may hold newlines and tabs (descriptions), as the evidence
# parser reads them.
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
SHA256_IN = r"^(?:[0-9a-fA-F]{64})?$"  # the parser lower-cases; "" means "no digest"
SHA256_OUT = r"^[0-9a-f]{64}$"
DECIMAL_TEXT = r"^[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?$"
MAX_COST = 100_000_000


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    schema["type"] = [schema["type"], "null"]
    return schema


def _text(max_length: int, *, min_length: int = 0, multiline: bool = False, **extra) -> dict:
    schema = {"type": "string", "maxLength": max_length, "pattern": MULTILINE if multiline else SINGLE_LINE}
    if min_length:
        schema["minLength"] = min_length
    schema.update(extra)
    return schema


def _case_insensitive(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


def _uri_pattern() -> str:
    schemes = "|".join(_case_insensitive(scheme) for scheme in settings.ARTIFACT_URI_SCHEMES)
    # A location after the scheme, no credentials, no spaces, control characters or backslashes.
    return rf"^(?:{schemes})://[^/?#@\x00-\x20\x7f\\]+(?:[/?#][^\x00-\x20\x7f\\]*)?$"


def _object(properties: dict, *, required: tuple[str, ...] = (), closed: bool = True, **extra) -> dict:
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


# --- What a registration body may hold (request) --------------------------------------------------------


def _registration_schemas() -> dict:
    artifact_kinds = list(ArtifactKind.values)
    direction_words = sorted(DIRECTION_ALIASES)
    higher = sorted(name for name, way in KNOWN_DIRECTIONS.items() if way == MetricDirection.HIGHER_IS_BETTER)
    lower = sorted(name for name, way in KNOWN_DIRECTIONS.items() if way == MetricDirection.LOWER_IS_BETTER)
    schemes = ", ".join(f"{scheme}://" for scheme in settings.ARTIFACT_URI_SCHEMES)
    return {
        "Registration": _object(
            {
                "description": _nullable(
                    _text(
                        DESCRIPTION_MAX_LENGTH,
                        multiline=True,
                        description="What changed in this version (Markdown is not rendered).",
                    )
                ),
                "artifacts": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ARTIFACTS,
                    "items": _ref("ArtifactIn"),
                    "description": (
                        "The files that make up the version; at least the weights. Names are unique."
                    ),
                },
                "source_run": _nullable(_ref("SourceRunIn")),
                "evaluation": _nullable(_ref("EvaluationIn")),
                "profile": _nullable(_ref("ProfileIn")),
                "card": {
                    "description": (
                        "The first model card: an object of sections, or one Markdown document whose `## "
                        "Heading`s name the sections (text before the first known heading is the task; an "
                        "unknown heading stays, with its text, in the section it falls in)."
                    ),
                    "anyOf": [
                        _ref("CardSections"),
                        {"type": "string", "maxLength": MAX_SECTION_LENGTH * 4, "pattern": r"^[^\x00]*$"},
                        {"type": "null"},
                    ],
                },
                "model": _nullable(_ref("NewModelInfo")),
            },
            required=("artifacts",),
            description=(
                "A candidate version with its evidence and first card, registered in Draft in one "
                "transaction. Evidence (artifacts, source run, evaluation, profile) is immutable once "
                "registered. Unknown fields are refused at every level. Optional fields may be left out or "
                "given as null. Every problem is listed at once in `error.fields`, keyed by its path "
                "(`artifacts[0].sha256`, `evaluation.slices[3]`, `card.summary`)."
            ),
        ),
        "ArtifactIn": _object(
            {
                "name": _text(200, min_length=1, description="Unique among the version's artifacts."),
                "kind": {"type": "string", "enum": artifact_kinds},
                "uri": {
                    "type": "string",
                    "maxLength": 2048,
                    "pattern": _uri_pattern(),
                    "description": (
                        f"Where the file is. Stored and shown, never fetched. Schemes: {schemes} A location "
                        "is required after the scheme; credentials (`user@`), spaces, control characters, "
                        "backslashes, empty segments (`//`) and `.` or `..` segments in any "
                        "percent-encoding are refused."
                    ),
                },
                "sha256": _nullable(
                    {
                        "type": "string",
                        "pattern": SHA256_IN,
                        "description": (
                            "The file's SHA-256 digest, 64 hexadecimal characters (stored lower-case)."
                        ),
                    }
                ),
                "size_bytes": _nullable({"type": "integer", "minimum": 0, "maximum": 2**63 - 1}),
            },
            required=("name", "kind", "uri"),
        ),
        "SourceRunIn": _object(
            {
                "tracking_system": _text(
                    50, min_length=1, examples=["mlflow", "wandb", "sagemaker", "vertex"]
                ),
                "run_id": _text(200, min_length=1),
                "url": _nullable(
                    _text(2048, description="A link to the run; only http:// and https:// are accepted.")
                    | {"pattern": r"^[hH][tT][tT][pP][sS]?:[^\x00-\x20\x7f]*$"}
                ),
                "git_commit": _nullable(
                    {
                        "type": "string",
                        "pattern": f"(?:{GIT_COMMIT.pattern})|^$",
                        "description": "7 to 64 lower-case hexadecimal characters.",
                    }
                ),
                "training_data": _nullable(_text(2048, description="A reference to the training data.")),
            },
            required=("tracking_system", "run_id"),
        ),
        "EvaluationIn": _object(
            {
                "dataset": _text(200, min_length=1),
                "dataset_version": _nullable(_text(100)),
                "metrics": {
                    "type": "array",
                    "maxItems": MAX_METRICS,
                    "items": _ref("MetricIn"),
                    "description": "Overall metrics; names are unique.",
                },
                "slices": _nullable(
                    {
                        "type": "array",
                        "maxItems": MAX_SLICES,
                        "items": _ref("SliceIn"),
                        "description": "Metrics per slice; each (slice, metric) pair at most once.",
                    }
                ),
            },
            required=("dataset", "metrics"),
        ),
        "MetricIn": _object(
            {
                "name": {"type": "string", "maxLength": 100, "pattern": METRIC_NAME.pattern},
                "value": {
                    "type": "number",
                    "minimum": -MAX_MAGNITUDE,
                    "maximum": MAX_MAGNITUDE,
                    "description": "A finite number (NaN and Infinity are refused).",
                },
                "direction": _nullable(
                    {
                        "type": "string",
                        "enum": direction_words,
                        "description": (
                            "Which way is better. May be left out only for metrics whose "
                            f"direction is well known: higher is better for {', '.join(higher)}; lower is "
                            f"better for {', '.join(lower)}."
                        ),
                    }
                ),
            },
            required=("name", "value"),
        ),
        "SliceIn": _object(
            {
                "slice": {
                    "type": "string",
                    "maxLength": 200,
                    "pattern": SLICE_KEY.pattern,
                    "description": "key=value, several joined by commas: region=EU,device=mobile.",
                },
                "metric": {"type": "string", "maxLength": 100, "pattern": METRIC_NAME.pattern},
                "value": {
                    "type": "number",
                    "minimum": -MAX_MAGNITUDE,
                    "maximum": MAX_MAGNITUDE,
                    "description": "A finite number.",
                },
                "sample_count": {"type": "integer", "minimum": 1},
            },
            required=("slice", "metric", "value", "sample_count"),
        ),
        "ProfileIn": _object(
            {
                "latency_p50_ms": {"type": "number", "minimum": 0, "maximum": MAX_MAGNITUDE},
                "latency_p95_ms": {"type": "number", "minimum": 0, "maximum": MAX_MAGNITUDE},
                "latency_p99_ms": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": MAX_MAGNITUDE,
                    "description": "Percentiles must not decrease: p50 ≤ p95 ≤ p99.",
                },
                "hardware": _nullable(_text(200)),
                "throughput_rps": _nullable({"type": "number", "minimum": 0, "maximum": MAX_MAGNITUDE}),
                "cost_per_1k_predictions": {
                    "description": (
                        "Cost of 1,000 predictions, kept to 6 decimal places; a decimal string keeps it "
                        "exact."
                    ),
                    "anyOf": [
                        {"type": "number", "minimum": 0, "exclusiveMaximum": MAX_COST},
                        {"type": "string", "pattern": DECIMAL_TEXT},
                        {"type": "null"},
                    ],
                },
                "currency": _nullable({"type": "string", "pattern": CURRENCY.pattern, "default": "USD"}),
            },
            required=("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"),
        ),
        "CardSections": _object(
            {
                section.value: {
                    "type": "string",
                    "maxLength": MAX_SECTION_LENGTH,
                    "pattern": r"^[^\x00]*$",
                    "description": f"{section.label} (Markdown).",
                }
                for section in Section
            },
            description="The written sections of the card, each Markdown. Empty sections are left out.",
        ),
        "NewModelInfo": _object(
            {
                "description": _nullable(
                    {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH, "pattern": r"^[^\x00]*$"}
                ),
                "team": _nullable({"type": "string", "description": "The name of an existing team."}),
            },
            description=(
                "Used only when this registration creates the model, ignored for an existing one; checked "
                "either way (a team that does not exist is refused)."
            ),
        ),
    }


# --- What the API answers (responses) --------------------------------------------------------------------
# Response objects are open (no additionalProperties: false): v1 may add fields. The tests close them, so
# every field the serializers send is documented here.


def _response_schemas() -> dict:
    timestamp = {"type": "string", "format": "date-time"}
    version_summary = {
        "id": {
            "type": "string",
            "pattern": r"^[a-z0-9-]+/v[0-9]+$",
            "examples": ["fraud-scorer/v7"],
            "description": "Stable id: model/v<number>.",
        },
        "uuid": {"type": "string", "format": "uuid"},
        "model": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "stage": _ref("Stage"),
        "stage_changed_at": timestamp,
        "registered_by": {"type": "string", "description": "Username."},
        "created_at": timestamp,
        "rollback_target": {
            "type": ["string", "null"],
            "description": "While in production: the version a rollback returns to (model/v<n>).",
        },
        "url": {"type": "string", "format": "uri", "description": "The version's page, for people."},
    }
    version_detail = {
        **version_summary,
        "description": {"type": "string"},
        "artifacts": {"type": "array", "items": _ref("Artifact")},
        "source_run": _nullable(_ref("SourceRun")),
        "evaluation": _nullable(_ref("Evaluation")),
        "profile": _nullable(_ref("Profile")),
    }
    return {
        "Stage": {"type": "string", "enum": list(Stage.values)},
        "Model": _object(
            {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "owner": {"type": "string", "description": "Username."},
                "team": {"type": ["string", "null"]},
                "created_at": timestamp,
                "production_version": {
                    "type": ["integer", "null"],
                    "description": "The number of the version in production, if any.",
                },
                "version_count": {"type": "integer", "minimum": 0},
                "url": {"type": "string", "format": "uri", "description": "The model's page, for people."},
            },
            required=(
                "name",
                "description",
                "owner",
                "team",
                "created_at",
                "production_version",
                "version_count",
                "url",
            ),
            closed=False,
        ),
        "ModelList": _object(
            {
                "count": {"type": "integer", "minimum": 0, "description": "Models matching, on all pages."},
                "page": {"type": "integer", "minimum": 1},
                "pages": {"type": "integer", "minimum": 1},
                "results": {"type": "array", "items": _ref("Model"), "description": "At most 50 a page."},
            },
            required=("count", "page", "pages", "results"),
            closed=False,
        ),
        "VersionSummary": _object(version_summary, required=tuple(version_summary), closed=False),
        "RollbackResult": _object(
            {
                "production": {**_ref("VersionSummary"), "description": "The target, in production again."},
                "rolled_back": {
                    **_ref("VersionSummary"),
                    "description": "The version rolled back, archived.",
                },
            },
            required=("production", "rolled_back"),
            closed=False,
        ),
        "VersionList": _object(
            {
                "count": {"type": "integer", "minimum": 0},
                "results": {
                    "type": "array",
                    "items": _ref("VersionSummary"),
                    "description": "Every version, newest first.",
                },
            },
            required=("count", "results"),
            closed=False,
        ),
        "VersionDetail": _object(version_detail, required=tuple(version_detail), closed=False),
        "Artifact": _object(
            {
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": list(ArtifactKind.values)},
                "uri": {"type": "string"},
                "sha256": {"type": ["string", "null"], "pattern": SHA256_OUT},
                "size_bytes": {"type": ["integer", "null"], "minimum": 0},
            },
            required=("name", "kind", "uri", "sha256", "size_bytes"),
            closed=False,
        ),
        "SourceRun": _object(
            {
                "tracking_system": {"type": "string"},
                "run_id": {"type": "string"},
                "url": {"type": ["string", "null"]},
                "git_commit": {"type": ["string", "null"]},
                "training_data": {"type": ["string", "null"]},
            },
            required=("tracking_system", "run_id", "url", "git_commit", "training_data"),
            closed=False,
        ),
        "Evaluation": _object(
            {
                "dataset": {"type": "string"},
                "dataset_version": {"type": ["string", "null"]},
                "metrics": {
                    "type": "array",
                    "items": _object(
                        {
                            "name": {"type": "string"},
                            "value": {"type": "number"},
                            "direction": {"type": "string", "enum": list(MetricDirection.values)},
                        },
                        required=("name", "value", "direction"),
                        closed=False,
                    ),
                },
                "slices": {
                    "type": "array",
                    "items": _object(
                        {
                            "slice": {"type": "string"},
                            "metric": {"type": "string"},
                            "value": {"type": "number"},
                            "sample_count": {"type": "integer", "minimum": 1},
                        },
                        required=("slice", "metric", "value", "sample_count"),
                        closed=False,
                    ),
                },
            },
            required=("dataset", "dataset_version", "metrics", "slices"),
            closed=False,
        ),
        "Profile": _object(
            {
                "latency_p50_ms": {"type": "number"},
                "latency_p95_ms": {"type": "number"},
                "latency_p99_ms": {"type": "number"},
                "hardware": {"type": ["string", "null"]},
                "throughput_rps": {"type": ["number", "null"]},
                "cost_per_1k_predictions": {
                    "type": ["string", "null"],
                    "pattern": r"^[0-9]+\.[0-9]{6}$",
                    "description": "A decimal string, exact to 6 places.",
                },
                "currency": {"type": "string", "pattern": CURRENCY.pattern},
            },
            required=(
                "latency_p50_ms",
                "latency_p95_ms",
                "latency_p99_ms",
                "hardware",
                "throughput_rps",
                "cost_per_1k_predictions",
                "currency",
            ),
            closed=False,
        ),
        "Production": _object(
            {
                "model": {"type": "string"},
                "version": {"type": "integer", "minimum": 1},
                "id": {"type": "string", "pattern": r"^[a-z0-9-]+/v[0-9]+$"},
                "uuid": {"type": "string", "format": "uuid"},
                "stage": {"type": "string", "const": Stage.PRODUCTION.value},
                "in_production_since": timestamp,
                "rollback_target": {
                    "type": ["string", "null"],
                    "description": "The version a rollback returns to (model/v<n>), if any.",
                },
                "artifacts": {
                    "type": "array",
                    "items": _ref("Artifact"),
                    "description": "What to load: each artifact's URI and SHA-256 digest.",
                },
            },
            required=(
                "model",
                "version",
                "id",
                "uuid",
                "stage",
                "in_production_since",
                "rollback_target",
                "artifacts",
            ),
            closed=False,
        ),
        "Error": _object(
            {
                "error": _object(
                    {
                        "code": {"type": "string", "description": "Machine-readable; stable within v1."},
                        "message": {
                            "type": "string",
                            "description": "What went wrong and what to do, for a person.",
                        },
                        "fields": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "array",
                                "items": {"type": "string"},
                                "minItems": 1,
                            },
                            "description": (
                                "Only on 400: each bad field by its path (`artifacts[0].sha256`, "
                                "`card.summary`, `body` for the body as a whole, `model` for the name in "
                                "the URL) and why."
                            ),
                        },
                    },
                    required=("code", "message"),
                ),
            },
            required=("error",),
        ),
    }


# --- Promotion policies and gate runs ----------------------------------------------------------------------


def _policy_schemas() -> dict:
    """Rules as `policy_parse` reads them (request) and as revisions store them (response): the same shape."""
    finite = {"type": "number", "minimum": -1e15, "maximum": 1e15}
    budget = {"type": ["number", "null"], "minimum": 0, "maximum": 1e15}
    metric_name = {"type": "string", "maxLength": 100, "pattern": METRIC_NAME.pattern}
    section = _object(
        {
            "required_checks": {
                "type": "array",
                "items": {"type": "string", "enum": list(Check.ALL)},
                "uniqueItems": True,
                "description": (
                    "Checks whose failure (or error) shuts the gate; the others are advisory. Left out: none."
                ),
            },
            "required_artifact_kinds": {
                "type": "array",
                "items": {"type": "string", "enum": list(ArtifactKind.values)},
                "uniqueItems": True,
                "description": "Left out: weights.",
            },
            "metric_bars": {"type": "array", "maxItems": 200, "items": _ref("MetricBar")},
            "baseline": {
                "type": "array",
                "maxItems": 200,
                "items": _ref("BaselineRule"),
                "description": "Rules against the version in production; one per metric.",
            },
            "slices": _nullable(_ref("SliceRule")),
            "latency_p95_ms_max": budget | {"description": "p95 latency budget in ms; null: none."},
            "cost_per_1k_max": budget | {"description": "Cost per 1,000 predictions; null: none."},
            "required_card_sections": {
                "type": "array",
                "items": {"type": "string", "enum": list(Section.values)},
                "uniqueItems": True,
            },
            "signoffs": _object(
                {
                    "count": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                    "roles": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(SIGNOFF_ROLES)},
                        "uniqueItems": True,
                        "default": ["reviewer"],
                        "description": "Needed when count is above 0.",
                    },
                }
            ),
            "allow_first_production": {
                "type": "boolean",
                "default": False,
                "description": (
                    "Staging → Production: allow a first production version, with no rollback target."
                ),
            },
        },
        description="What one move up requires. Every field may be left out; `{}` means no extra rules.",
    )
    assert set(section["properties"]) == set(SECTION_FIELDS), "the document lags behind the parser"
    return {
        "PolicyRules": _object(
            {name: _ref("PolicySection") for name in TRANSITIONS},
            required=tuple(TRANSITIONS),
            description=(
                "One section per move up. Problems are answered together in `error.fields`, keyed by their "
                "path inside the body (`rules.staging_to_production.metric_bars[0].op`). A metric or slice "
                "that no version reports is not an error: it is listed in `warnings`."
            ),
        ),
        "PolicySection": section,
        "MetricBar": _object(
            {
                "metric": metric_name,
                "op": {"type": "string", "enum": list(OPERATORS)},
                "value": finite,
            },
            required=("metric", "op", "value"),
            description="The candidate's own value must meet the bar: auc >= 0.80.",
        ),
        "BaselineRule": _object(
            {
                "metric": metric_name,
                "tolerance": {"type": "number", "minimum": 0, "maximum": 1e15, "default": 0},
                "relative": {
                    "type": "boolean",
                    "default": False,
                    "description": "The tolerance is a fraction of production's value (0.02 is 2%).",
                },
                "direction": {
                    "type": ["string", "null"],
                    "enum": ["higher", "lower", None],
                    "description": "Which way is better; null: as the candidate's evaluation says.",
                },
            },
            required=("metric",),
            description="How much worse than the version in production the candidate may be on a metric.",
        ),
        "SliceRule": _object(
            {
                "scope": {
                    "type": "string",
                    "enum": ["all", "listed"],
                    "default": "all",
                    "description": "all: every slice both report; listed: only `slices`.",
                },
                "slices": {
                    "type": "array",
                    "maxItems": 2000,
                    "items": {"type": "string", "pattern": SLICE_KEY.pattern},
                },
                "metrics": {
                    "type": "array",
                    "items": metric_name,
                    "description": "Empty: every metric reported per slice.",
                },
                "max_worsening": {"type": "number", "minimum": 0, "maximum": 1e15, "default": 0},
                "relative": {"type": "boolean", "default": False},
                "min_samples": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10**9,
                    "default": 100,
                    "description": "A slice with fewer samples is shown but not judged.",
                },
            },
        ),
        "PolicyUpdate": _object(
            {
                "rules": _ref("PolicyRules"),
                "reason": _text(2000, min_length=1, multiline=True, description="Why the policy changes."),
            },
            required=("rules", "reason"),
        ),
    }


def _gate_schemas() -> dict:
    timestamp = {"type": "string", "format": "date-time"}
    nullable_timestamp = {"type": ["string", "null"], "format": "date-time"}
    link = {"type": "string", "format": "uri"}
    revision_ref = {
        "scope": {"type": "string", "description": "The model's name, or `global` for the default."},
        "number": {"type": "integer", "minimum": 1},
        "url": link | {"description": "The policy page at this revision, for people."},
        "api_url": link,
    }
    gate_run = {
        "id": {"type": "integer", "minimum": 1},
        "model": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "target_stage": {"type": "string", "enum": [Stage.STAGING.value, Stage.PRODUCTION.value]},
        "state": {
            "type": "string",
            "enum": list(GateState.values),
            "description": "pending (queued) and running are open; passed, failed and error are final.",
        },
        "progress": _object(
            {"done": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0}},
            required=("done", "total"),
            closed=False,
        ),
        "requested_by": {"type": "string", "description": "Username."},
        "requested_at": timestamp,
        "enqueued_at": nullable_timestamp
        | {
            "description": (
                "When the broker took it; null while the broker was unreachable (the sweeper retries)."
            )
        },
        "started_at": nullable_timestamp,
        "finished_at": nullable_timestamp,
        "duration_seconds": {"type": ["number", "null"], "minimum": 0},
        "attempts": {"type": "integer", "minimum": 0},
        "error": {"type": ["string", "null"]},
        "baseline": _nullable(
            _object(
                {
                    "id": {"type": "string", "pattern": r"^[a-z0-9-]+/v[0-9]+$"},
                    "version": {"type": "integer", "minimum": 1},
                    "url": link,
                    "api_url": link,
                },
                required=("id", "version", "url", "api_url"),
                closed=False,
                description="The version in production the run compared against, recorded when it ran.",
            )
        ),
        "policy_revision": _object(revision_ref, required=tuple(revision_ref), closed=False),
        "url": link | {"description": "The gate run's page, for people."},
        "api_url": link,
    }
    return {
        "GateRunRequest": _object(
            {"target_stage": {"type": "string", "enum": [Stage.STAGING.value, Stage.PRODUCTION.value]}},
            required=("target_stage",),
            description="The stage just above the version's: staging for a draft, production for staging.",
        ),
        "GateRun": _object(gate_run, required=tuple(gate_run), closed=False),
        "GateRunDetail": _object(
            {
                **gate_run,
                "results": {
                    "type": "array",
                    "items": _ref("CheckResult"),
                    "description": "Empty while the run is open: results are written all at once at the end.",
                },
            },
            required=(*gate_run, "results"),
            closed=False,
        ),
        "GateRunList": _object(
            {
                "count": {"type": "integer", "minimum": 0},
                "results": {"type": "array", "items": _ref("GateRun"), "description": "Newest first."},
            },
            required=("count", "results"),
            closed=False,
        ),
        "CheckResult": _object(
            {
                "check": {"type": "string", "enum": list(Check.ALL)},
                "title": {"type": "string"},
                "status": {"type": "string", "enum": ["passed", "failed", "warning", "error"]},
                "required": {"type": "boolean", "description": "Whether the policy makes it block the gate."},
                "summary": {"type": "string", "maxLength": 500},
                "numbers": {
                    "type": "object",
                    "description": (
                        "What the check compared, as it recorded it; the `slices` check lists every slice in "
                        "`rows` with its verdict."
                    ),
                },
            },
            required=("check", "title", "status", "required", "summary", "numbers"),
            closed=False,
        ),
        "PolicyRevision": _object(
            {
                **revision_ref,
                "author": {"type": ["string", "null"], "description": "null for the built-in default."},
                "created_at": timestamp,
                "reason": {"type": "string"},
                "rules": _ref("PolicyRules"),
            },
            required=(*revision_ref, "author", "created_at", "reason", "rules"),
            closed=False,
        ),
        "Policy": _object(
            {
                "model": {"type": ["string", "null"], "description": "null on the global default."},
                "applies": {
                    "type": "string",
                    "enum": ["own", "global_default"],
                    "description": "Whether the model has its own policy or the global default applies.",
                },
                "revision": _ref("PolicyRevision"),
                "warnings": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Metrics and slices the rules name that no version reports: likely typos.",
                },
            },
            required=("model", "applies", "revision", "warnings"),
            closed=False,
        ),
    }


# --- Promotion requests and sign-offs --------------------------------------------------------------------

# The services strip text and refuse what is then empty or holds NUL; beyond that any character goes.
SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
NO_NUL = r"^[^\x00]*$"
ARCHIVE_REASON_MAX = 2000


def _promotion_schemas() -> dict:
    timestamp = {"type": "string", "format": "date-time"}
    nullable_timestamp = {"type": ["string", "null"], "format": "date-time"}
    link = {"type": "string", "format": "uri"}
    username = {"type": "string", "description": "Username."}
    nullable_username = {"type": ["string", "null"], "description": "Username."}
    move_up = {"type": "string", "enum": [Stage.STAGING.value, Stage.PRODUCTION.value]}
    promotion = {
        "id": {"type": "integer", "minimum": 1},
        "model": {"type": "string"},
        "version": _object(
            {
                "id": {"type": "string", "pattern": r"^[a-z0-9-]+/v[0-9]+$", "examples": ["fraud-scorer/v7"]},
                "version": {"type": "integer", "minimum": 1},
                "url": link,
                "api_url": link,
            },
            required=("id", "version", "url", "api_url"),
            closed=False,
        ),
        "from_stage": {"type": "string", "enum": [Stage.DRAFT.value, Stage.STAGING.value]},
        "target_stage": move_up,
        "state": {
            "type": "string",
            "enum": list(RequestState.values),
            "description": (
                "checking, checks_failed and awaiting_signoff are open; approved (the move was made), "
                "rejected, cancelled and superseded are final."
            ),
        },
        "justification": {"type": "string"},
        "requested_by": username,
        "created_at": timestamp,
        "closed_at": nullable_timestamp,
        "closed_by": nullable_username
        | {"description": "Username; null while open, and when the warehouse closed it (superseded)."},
        "closed_reason": {"type": ["string", "null"]},
        "overridden": {
            "type": "boolean",
            "description": (
                "Approved despite a gate that did not pass, by someone holding the override permission."
            ),
        },
        "override_justification": {"type": ["string", "null"]},
        "overridden_by": nullable_username,
        "gate_run": _object(
            {
                "id": {"type": "integer", "minimum": 1},
                "state": {"type": "string", "enum": list(GateState.values)},
                "policy_revision": _ref("PolicyRevisionRef"),
                "url": link | {"description": "The gate report page, for people."},
                "api_url": link | {"description": "The gate run with its check results."},
            },
            required=("id", "state", "policy_revision", "url", "api_url"),
            closed=False,
            description="The gate run the request is judged by: the latest one asked for it.",
        ),
        "url": link | {"description": "The request's page, for people."},
        "api_url": link,
    }
    signoff = {
        "signer": username,
        "role": {"type": "string", "enum": list(SIGNOFF_ROLES), "description": "The role signed as."},
        "decision": {"type": "string", "enum": list(Decision.values)},
        "comment": {"type": "string"},
        "override": {"type": "boolean"},
        "gate_run": {
            "type": "integer",
            "minimum": 1,
            "description": (
                "The gate run the signer looked at; only those on the request's current run count."
            ),
        },
        "created_at": timestamp,
    }
    return {
        "PolicyRevisionRef": _object(
            {
                "scope": {"type": "string", "description": "The model's name, or `global` for the default."},
                "number": {"type": "integer", "minimum": 1},
                "url": link | {"description": "The policy page at this revision, for people."},
                "api_url": link,
            },
            required=("scope", "number", "url", "api_url"),
            closed=False,
        ),
        "PromotionRequestCreate": _object(
            {
                "target_stage": move_up
                | {
                    "description": "The next stage up: staging for a draft, production for a staging version."
                },
                "justification": {
                    "type": "string",
                    "maxLength": JUSTIFICATION_MAX,
                    "pattern": SOME_TEXT,
                    "description": "Why the version should move up: reviewers read it first.",
                },
            },
            required=("target_stage", "justification"),
        ),
        "PromotionRequest": _object(promotion, required=tuple(promotion), closed=False),
        "PromotionRequestDetail": _object(
            {
                **promotion,
                "signoffs": {"type": "array", "items": _ref("SignOff"), "description": "Oldest first."},
                "signoffs_required": _nullable(
                    _object(
                        {
                            "count": {"type": "integer", "minimum": 0},
                            "roles": {
                                "type": "array",
                                "items": {"type": "string", "enum": list(SIGNOFF_ROLES)},
                            },
                        },
                        required=("count", "roles"),
                        closed=False,
                        description=(
                            "What the policy revision of the gate run asks for: how many approvals, from "
                            "people holding which role on the model. null if the revision is unreadable."
                        ),
                    )
                ),
                "signoffs_needed": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": (
                        "Approvals still needed on the current gate run; 0 once the request is closed, null "
                        "if the policy revision is unreadable."
                    ),
                },
            },
            required=(*promotion, "signoffs", "signoffs_required", "signoffs_needed"),
            closed=False,
        ),
        "PromotionRequestList": _object(
            {
                "count": {"type": "integer", "minimum": 0},
                "results": {
                    "type": "array",
                    "items": _ref("PromotionRequest"),
                    "description": "Newest first.",
                },
            },
            required=("count", "results"),
            closed=False,
        ),
        "SignOffCreate": _object(
            {
                "decision": {"type": "string", "enum": list(Decision.values)},
                "comment": {
                    "type": "string",
                    "maxLength": JUSTIFICATION_MAX,
                    "pattern": NO_NUL,
                    "description": (
                        "Required to reject (the requester reads it) and to override (the written "
                        "justification, shown wherever the version is)."
                    ),
                },
                "override": {
                    "type": "boolean",
                    "default": False,
                    "description": "Approve despite a gate that did not pass; needs the override permission.",
                },
                "gate_run": {
                    "type": "integer",
                    "minimum": 1,
                    "description": (
                        "The gate run you read. If the gate ran again since, nothing is signed (409 "
                        "`gate_run_changed`): a sign-off binds to the run it looked at."
                    ),
                },
            },
            required=("decision",),
        ),
        "SignOff": _object(signoff, required=tuple(signoff), closed=False),
        "SignOffRecorded": _object(
            {"signoff": _ref("SignOff"), "promotion_request": _ref("PromotionRequestDetail")},
            required=("signoff", "promotion_request"),
            closed=False,
        ),
        "PromotionCancel": _object(
            {
                "reason": {
                    "type": "string",
                    "pattern": NO_NUL,
                    "description": "Kept with the request (its first 2000 characters). Left out: withdrawn.",
                }
            }
        ),
        "VersionArchive": _object(
            {
                "reason": {
                    "type": "string",
                    "maxLength": ARCHIVE_REASON_MAX,
                    "pattern": SOME_TEXT,
                    "description": "Why the version is retired; shown on the stage timeline and audited.",
                }
            },
            required=("reason",),
        ),
        "Rollback": _object(
            {
                "expected_current": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The number of the production version you are replacing.",
                },
                "reason": {
                    "type": "string",
                    "maxLength": 2000,
                    "pattern": SOME_TEXT,
                    "description": "Why production is rolled back (the incident, what was seen); audited.",
                },
                "incident": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The incident about this model that the rollback answers, if any.",
                },
            },
            required=("expected_current", "reason"),
        ),
    }


# --- Model cards -------------------------------------------------------------------------------------------


CARD_SUMMARY_MAX = CardRevision._meta.get_field("summary").max_length


def _card_schemas() -> dict:
    section_keys = list(Section.values)
    link = {"type": "string", "format": "uri"}
    nullable_text = {"type": ["string", "null"]}
    return {
        "CardUpdate": _object(
            {
                "sections": {
                    "description": (
                        "The whole card: every section the card keeps (a section left out, or empty, is "
                        "emptied). An object of sections, or one Markdown document whose `## Heading`s "
                        "name them, as at registration."
                    ),
                    "anyOf": [
                        _ref("CardSections"),
                        {"type": "string", "maxLength": MAX_SECTION_LENGTH * 4, "pattern": r"^[^\x00]*$"},
                    ],
                },
                "summary": {
                    "type": "string",
                    "maxLength": CARD_SUMMARY_MAX,
                    "pattern": r"^[^\x00]*$",
                    "description": "What changed, in a line; shown in the card's history.",
                },
            },
            required=("sections",),
        ),
        "Card": _object(
            {
                "model": {"type": "string"},
                "version": {"type": "integer", "minimum": 1},
                "id": {"type": "string", "pattern": r"^[a-z0-9-]+/v[0-9]+$"},
                "stage": _ref("Stage"),
                "revision": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "The number of the current revision; null for a card never written.",
                },
                "author": nullable_text | {"description": "Username of the current revision's author."},
                "created_at": {"type": ["string", "null"], "format": "date-time"},
                "summary": nullable_text,
                "sections": _object(
                    {key: {"type": "string"} for key in section_keys},
                    closed=False,
                    description="The written sections, as Markdown, in reading order; empty ones are absent.",
                ),
                "sections_html": _object(
                    {key: {"type": "string"} for key in section_keys},
                    closed=False,
                    description=(
                        "Each written section rendered to HTML once, on write, and sanitised (no script, "
                        "event handlers, frames or forms; links only http, https and mailto)."
                    ),
                ),
                "completeness": _object(
                    {
                        "filled": {"type": "array", "items": {"type": "string", "enum": section_keys}},
                        "empty": {"type": "array", "items": {"type": "string", "enum": section_keys}},
                        "required": {
                            "type": "array",
                            "items": {"type": "string", "enum": section_keys},
                            "description": (
                                "What the promotion policy in force requires for the version's next move up "
                                "(for a version in Production or Archived, the move to Production)."
                            ),
                        },
                        "missing": {
                            "type": "array",
                            "items": {"type": "string", "enum": section_keys},
                            "description": "Required sections that are empty: the card-sections check fails.",
                        },
                        "required_by": {"type": "string", "description": "Where the requirement comes from."},
                    },
                    required=("filled", "empty", "required", "missing", "required_by"),
                    closed=False,
                    description=(
                        "Which sections are written, which are empty, and which required ones are missing."
                    ),
                ),
                "exports": _object(
                    {"huggingface": link, "toolkit": link},
                    required=("huggingface", "toolkit"),
                    closed=False,
                ),
                "url": link | {"description": "The card page, for people."},
                "api_url": link,
            },
            required=(
                "model",
                "version",
                "id",
                "stage",
                "revision",
                "author",
                "created_at",
                "summary",
                "sections",
                "sections_html",
                "completeness",
                "exports",
                "url",
                "api_url",
            ),
            closed=False,
        ),
        "CardToolkit": _object(
            {
                "schema_version": {"type": "string", "const": TOOLKIT_SCHEMA_VERSION},
                "model_details": {"type": "object"},
                "model_parameters": {"type": "object"},
                "quantitative_analysis": {"type": "object"},
                "considerations": {"type": "object"},
            },
            required=("schema_version", "model_details", "quantitative_analysis"),
            description=(
                f"A Model Card Toolkit model card (JSON schema v{TOOLKIT_SCHEMA_VERSION}): `model_details` "
                "(name, overview, the whole written card as `documentation`, owners, version, the source "
                "run's https link, the weights' URI as `path`), `model_parameters.data` (the evaluation "
                "and training data), `quantitative_analysis.performance_metrics` (each overall metric with "
                '`slice` "", then each slice metric; values as strings) and `considerations` (task and '
                "out-of-scope uses as `use_cases`, known failures as `limitations`, the latency and cost "
                "profile and notes as `tradeoffs`, `ethical_considerations`)."
            ),
        ),
    }


def _card_paths(name: dict, number: dict, read_errors: dict) -> dict:
    def attachment(filename: str) -> dict:
        return {
            "Content-Disposition": {
                "schema": {"type": "string"},
                "description": f'`attachment; filename="{filename}"`.',
            }
        }

    return {
        "/models/{name}/versions/{number}/card": {
            "parameters": [name, number],
            "get": {
                "operationId": "getCard",
                "summary": "The version's model card",
                "description": (
                    "The current revision: its sections as Markdown and as sanitised HTML, who wrote it and "
                    "when, and which sections are empty. A card never written answers with `revision` null "
                    "and every section empty. Readable by anyone who may see the model."
                ),
                "tags": ["cards"],
                "responses": {"200": _json("Card", "The card as it is now."), **read_errors},
            },
            "put": {
                "operationId": "reviseCard",
                "summary": "Save the card as a new revision",
                "description": (
                    "Replaces the written sections; nothing is overwritten: each save is a new revision "
                    "with its author, time and summary, and an audit event; a save that changes nothing is "
                    "refused (400 on `sections`). Any stage's card may be edited (the evidence stays "
                    "immutable). Needs the card edit permission on the model (refusals are audited). "
                    "Session callers send the CSRF token in the X-CSRFToken header."
                ),
                "tags": ["cards"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("CardUpdate"),
                            "examples": {
                                "revise": {
                                    "value": {
                                        "sections": {
                                            "task": "Scores card payments for fraud before authorisation.",
                                            "known_failures": "Merchants in their first week score high.",
                                            "owners_contacts": "payments-ml@example.com",
                                        },
                                        "summary": "Known failures from the October incident review.",
                                    }
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": _json("Card", "Saved: the card at its new revision."),
                    "400": _response_ref("BadRequest"),
                    "401": _response_ref("Unauthorized"),
                    "403": _response_ref("Forbidden"),
                    "404": _response_ref("NotFound"),
                },
            },
        },
        "/models/{name}/versions/{number}/card/export/huggingface": {
            "parameters": [name, number],
            "get": {
                "operationId": "exportCardHuggingFace",
                "summary": "The card as a Hugging Face style README.md",
                "description": (
                    "YAML front matter with `model-index` (one result: the evaluation dataset and every "
                    "overall metric, in the Hub's schema), `tags`, and a `warehouse` block with the "
                    "version's identity, metric directions and every slice metric; then each written "
                    "section under a `## <Section>` heading, in reading order. Importing it back into a "
                    "Draft's card gives the same sections."
                ),
                "tags": ["cards"],
                "responses": {
                    "200": {
                        "description": "The README.md.",
                        "headers": attachment("<model>-v<number>-README.md"),
                        "content": {"text/markdown": {"schema": {"type": "string"}}},
                    },
                    **read_errors,
                },
            },
        },
        "/models/{name}/versions/{number}/card/export/toolkit": {
            "parameters": [name, number],
            "get": {
                "operationId": "exportCardToolkit",
                "summary": "The card as Model Card Toolkit JSON",
                "description": (
                    "Valid against the Model Card Toolkit's JSON schema v"
                    f"{TOOLKIT_SCHEMA_VERSION}, slices included."
                ),
                "tags": ["cards"],
                "responses": {
                    "200": {
                        "description": "The model card.",
                        "headers": attachment("<model>-v<number>-model-card.json"),
                        "content": {"application/json": {"schema": _ref("CardToolkit")}},
                    },
                    **read_errors,
                },
            },
        },
    }


# --- Answers shared by the operations --------------------------------------------------------------------


def _error(description: str, codes: list[str], headers: dict | None = None) -> dict:
    response: dict = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        _ref("Error"),
                        {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
                    ]
                }
            }
        },
    }
    if headers:
        response["headers"] = headers
    return response


def _responses() -> dict:
    return {
        "BadRequest": _error(
            "The input is wrong; nothing was written. `error.fields` names each bad field and why.",
            ["invalid"],
        ),
        "Unauthorized": _error(
            "No credentials, a malformed Authorization header, or a token that is unknown, revoked or "
            "expired.",
            ["unauthenticated"],
            {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="warehouse"'}},
        ),
        "Forbidden": _error(
            "The caller may see the model but not do this (the refusal is recorded in the audit trail), or "
            "a session caller sent an unsafe request without its CSRF token.",
            ["permission_denied", "csrf_failed"],
        ),
        "NotFound": _error(
            "No such model or version, or the caller may not see it: the two are indistinguishable.",
            ["not_found"],
        ),
        "MethodNotAllowed": _error(
            "The method is not allowed on this path. Versions and their evidence are immutable: PUT, PATCH "
            "and DELETE answer 405. The Allow header lists the methods that are.",
            ["method_not_allowed"],
            {
                "Allow": {
                    "schema": {"type": "string"},
                    "description": "The allowed methods, e.g. `GET, POST`.",
                }
            },
        ),
        "Conflict": _error(
            "The request is well formed but the registry's current state refuses it; read the state and "
            "retry.",
            ["conflict"],
        ),
    }


def _response_ref(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


EXAMPLE_REGISTRATION = {
    "description": "Retrained on October data; adds merchant-age features.",
    "artifacts": [
        {
            "name": "model.onnx",
            "kind": "weights",
            "uri": "s3://models/fraud-scorer/v8/model.onnx",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "size_bytes": 48213504,
        },
        {
            "name": "config.json",
            "kind": "config",
            "uri": "s3://models/fraud-scorer/v8/config.json",
            "sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
            "size_bytes": 2048,
        },
    ],
    "source_run": {
        "tracking_system": "mlflow",
        "run_id": "8c2f1e0a",
        "url": "https://mlflow.example.com/#/runs/8c2f1e0a",
        "git_commit": "3f9a2c1d7e",
        "training_data": "s3://data/payments/2026-10",
    },
    "evaluation": {
        "dataset": "payments-holdout",
        "dataset_version": "2026-10",
        "metrics": [
            {"name": "auc", "value": 0.912},
            {"name": "log_loss", "value": 0.208},
            {"name": "approval_rate", "value": 0.87, "direction": "higher"},
        ],
        "slices": [
            {"slice": "region=EU", "metric": "auc", "value": 0.905, "sample_count": 41230},
            {"slice": "region=US,device=mobile", "metric": "auc", "value": 0.889, "sample_count": 9120},
        ],
    },
    "profile": {
        "latency_p50_ms": 4.1,
        "latency_p95_ms": 9.5,
        "latency_p99_ms": 15.0,
        "hardware": "c6i.xlarge",
        "throughput_rps": 850,
        "cost_per_1k_predictions": "0.0125",
        "currency": "USD",
    },
    "card": {
        "task": "Scores card payments for fraud before authorisation.",
        "known_failures": "Merchants in their first week score high; review before declining.",
    },
    "model": {"description": "Card-payment fraud scoring.", "team": "payments"},
}


def _paths() -> dict:
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": (
            "The model's name: 1-64 lower-case letters, digits and hyphens, starting and ending with a "
            f"letter or digit; not one of {', '.join(sorted(RESERVED_MODEL_NAMES))}."
        ),
        "schema": {"type": "string", "pattern": MODEL_NAME.pattern, "maxLength": 64},
    }
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    read_errors = {"401": _response_ref("Unauthorized"), "404": _response_ref("NotFound")}
    etag_header = {
        "schema": {"type": "string"},
        "description": "A strong ETag of the answer: send it back in If-None-Match.",
    }
    return {
        **_promotion_paths(name, number, read_errors),
        **_request_paths(name, number, read_errors),
        **_card_paths(name, number, read_errors),
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document of this API.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/models": {
            "get": {
                "operationId": "listModels",
                "summary": "The models the caller may see",
                "description": (
                    "Sorted by name, 50 a page. Models the caller may not see are absent. A page past the "
                    "last answers the last page."
                ),
                "tags": ["models"],
                "parameters": [
                    {
                        "name": "search",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Part of the name or description, any case.",
                    },
                    {
                        "name": "stage",
                        "in": "query",
                        "schema": _ref("Stage"),
                        "description": "Only models with a version in this stage.",
                    },
                    {
                        "name": "team",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Team name.",
                    },
                    {
                        "name": "owner",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Owner's username.",
                    },
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "default": 1},
                    },
                ],
                "responses": {
                    "200": _json("ModelList", "One page of models."),
                    "400": _response_ref("BadRequest"),
                    "401": _response_ref("Unauthorized"),
                },
            }
        },
        "/models/{name}": {
            "parameters": [name],
            "get": {
                "operationId": "getModel",
                "summary": "One model",
                "tags": ["models"],
                "responses": {"200": _json("Model", "The model."), **read_errors},
            },
        },
        "/models/{name}/versions": {
            "parameters": [name],
            "get": {
                "operationId": "listVersions",
                "summary": "The model's versions, newest first",
                "tags": ["versions"],
                "responses": {"200": _json("VersionList", "Every version of the model."), **read_errors},
            },
            "post": {
                "operationId": "registerVersion",
                "summary": "Register a candidate version with its evidence and first card",
                "description": (
                    "Registers the next version in Draft. When no model has this name yet, it is created "
                    "first (needs the permission to create models; `model` then sets its description and "
                    "team); otherwise the caller needs the register permission on the model. All or "
                    f"nothing: on any error nothing is written. The body may be at most "
                    f"{MAX_BODY_BYTES // (1024 * 1024)} MB. Session callers send the CSRF token in the "
                    "X-CSRFToken header."
                ),
                "tags": ["versions"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("Registration"),
                            "examples": {
                                "fraud-scorer": {
                                    "summary": "A version from a CI pipeline",
                                    "value": copy.deepcopy(EXAMPLE_REGISTRATION),
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Registered. The body's `id` (model/v<n>) and `uuid` are stable.",
                        "headers": {
                            "Location": {
                                "schema": {"type": "string", "format": "uri"},
                                "description": "This API's URL of the new version.",
                            }
                        },
                        "content": {"application/json": {"schema": _ref("VersionSummary")}},
                    },
                    "400": _response_ref("BadRequest"),
                    "401": _response_ref("Unauthorized"),
                    "403": _response_ref("Forbidden"),
                    "404": _response_ref("NotFound"),
                    "409": _response_ref("Conflict"),
                },
            },
        },
        "/models/{name}/versions/{number}": {
            "parameters": [name, number],
            "get": {
                "operationId": "getVersion",
                "summary": "One version with its evidence",
                "description": (
                    "Read-only: evidence never changes after registration (PUT, PATCH and DELETE answer "
                    "405, see components.responses.MethodNotAllowed)."
                ),
                "tags": ["versions"],
                "responses": {"200": _json("VersionDetail", "The version and its evidence."), **read_errors},
            },
        },
        "/models/{name}/production": {
            "parameters": [name],
            "get": {
                "operationId": "getProduction",
                "summary": "What is in production for the model",
                "description": (
                    "The serving systems' lookup: the production version's artifact URIs and digests and "
                    "its rollback target. It answers what the last committed stage change wrote, from the "
                    "moment that change commits; it is never answered from a cache that could be older.\n\n"
                    "Polling: send the `ETag` you hold in `If-None-Match`; while production is unchanged "
                    "the answer is 304 with no body.\n\n"
                    "Watching: add `wait=<seconds>` (up to 60) and the request is held while what you hold "
                    "is still what there is (your ETag matches, or nothing is in production and you sent "
                    "no ETag). It is answered as soon as production changes (200, or 404 when production "
                    "is retired), or at the end of the wait with 304 (or the same 404). Ask again at once "
                    "with the ETag you now hold."
                ),
                "tags": ["serving"],
                "parameters": [
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "description": "Hold the request up to this many seconds for production to change.",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 60},
                    },
                    {
                        "name": "If-None-Match",
                        "in": "header",
                        "required": False,
                        "description": "The ETag of the answer you hold: 304 while it is still current.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        **_json("Production", "The version in production."),
                        "headers": {"ETag": etag_header},
                    },
                    "304": {
                        "description": "Not modified: the answer whose ETag you sent is still current.",
                        "headers": {"ETag": etag_header},
                    },
                    "400": _response_ref("BadRequest"),
                    "401": _response_ref("Unauthorized"),
                    "404": _error(
                        "No such model (or the caller may not see it), or nothing of it is in production.",
                        ["not_found", "no_production_version"],
                    ),
                    "429": _error(
                        "A wait on the web server, which already holds as many waiting lookups as it may: "
                        "ask again after Retry-After (the watch server has no such limit).",
                        ["too_many_waiting"],
                        {
                            "Retry-After": {
                                "schema": {"type": "string"},
                                "description": "Seconds to wait before asking again.",
                            }
                        },
                    ),
                    "503": _error(
                        "The registry's database cannot be reached: nothing is answered rather than a guess.",
                        ["database_unavailable"],
                        {
                            "Retry-After": {
                                "schema": {"type": "string"},
                                "description": "Seconds to wait before asking again.",
                            }
                        },
                    ),
                },
            },
        },
        "/models/{name}/rollback": {
            "parameters": [name],
            "post": {
                "operationId": "rollBack",
                "summary": "Roll production back to its recorded rollback target",
                "description": (
                    "For runbooks and chat-ops: the same service, permission (incident responder), "
                    "refusals and audit events as the one-click rollback on `/go/<model>`. "
                    "`expected_current` is the production version you are replacing: if production changed "
                    "meanwhile (someone rolled back first), nothing happens and the 409 says what did. The "
                    "target's stored artifacts are checked against their digests first."
                ),
                "tags": ["serving"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("Rollback"),
                            "examples": {
                                "incident": {
                                    "value": {"expected_current": 7, "reason": "INC-42: p99 latency doubled"}
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        "RollbackResult",
                        "Rolled back: the version now in production, and the one rolled back (archived).",
                    ),
                    "400": _response_ref("BadRequest"),
                    "401": _response_ref("Unauthorized"),
                    "403": _response_ref("Forbidden"),
                    "404": _response_ref("NotFound"),
                    "409": _error(
                        "Production changed since you looked, it was already rolled back, the production "
                        "version has no rollback target, or the target's stored artifacts no longer match "
                        "their digests.",
                        [
                            "production_changed",
                            "already_rolled_back",
                            "no_rollback_target",
                            "target_evidence_failed",
                        ],
                    ),
                },
            },
        },
    }


EXAMPLE_POLICY_UPDATE = {
    "rules": {
        "draft_to_staging": {
            "required_checks": ["source_run", "artifacts", "evaluation", "owner"],
            "required_card_sections": ["task"],
            "signoffs": {"count": 1, "roles": ["reviewer"]},
        },
        "staging_to_production": {
            "required_checks": list(Check.ALL),
            "metric_bars": [{"metric": "auc", "op": ">=", "value": 0.9}],
            "baseline": [
                {"metric": "auc", "tolerance": 0.002},
                {"metric": "log_loss", "tolerance": 0.05, "relative": True, "direction": "lower"},
            ],
            "slices": {"scope": "all", "max_worsening": 0.005, "min_samples": 500},
            "latency_p95_ms_max": 25,
            "cost_per_1k_max": 0.05,
            "required_card_sections": ["task", "known_failures", "owners_contacts"],
            "signoffs": {"count": 2, "roles": ["approver"]},
            "allow_first_production": True,
        },
    },
    "reason": "The review board's checklist from the Q3 incident review.",
}


def _policy_put(summary: str, description: str, operation_id: str, *, with_404: bool) -> dict:
    responses = {
        "200": _json("Policy", "Saved: the new revision is in force."),
        "400": _response_ref("BadRequest"),
        "401": _response_ref("Unauthorized"),
        "403": _response_ref("Forbidden"),
    }
    if with_404:
        responses["404"] = _response_ref("NotFound")
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["policies"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _ref("PolicyUpdate"),
                    "examples": {
                        "review-board": {
                            "summary": "Every check for Production, bars, baselines and slices",
                            "value": copy.deepcopy(EXAMPLE_POLICY_UPDATE),
                        }
                    },
                }
            },
        },
        "responses": responses,
    }


def _promotion_paths(name: dict, number: dict, read_errors: dict) -> dict:
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    revision = {
        "name": "number",
        "in": "path",
        "required": True,
        "description": "The revision number.",
        "schema": {"type": "integer", "minimum": 1},
    }
    return {
        "/models/{name}/policy": {
            "parameters": [name],
            "get": {
                "operationId": "getPolicy",
                "summary": "The promotion policy that applies to the model",
                "description": (
                    "The model's own policy revision in force, or the global default's when it has none "
                    "(`applies`), with warnings about metric and slice names no version of the model reports."
                ),
                "tags": ["policies"],
                "responses": {"200": _json("Policy", "The policy in force."), **read_errors},
            },
            "put": _policy_put(
                "Save new rules as the next revision of the model's policy",
                "Needs the policy admin permission on the model (refusals are audited). Nothing is "
                "overwritten: the rules become a new revision, in force at once, and later gate runs record "
                "it. All or nothing; every problem is listed in `error.fields` by its path in the body. "
                "Session callers send the CSRF token in the X-CSRFToken header.",
                "revisePolicy",
                with_404=True,
            ),
        },
        "/models/{name}/policy/revisions/{number}": {
            "parameters": [name, revision],
            "get": {
                "operationId": "getPolicyRevision",
                "summary": "One revision of the model's own policy",
                "tags": ["policies"],
                "responses": {"200": _json("PolicyRevision", "The revision."), **read_errors},
            },
        },
        "/policy": {
            "get": {
                "operationId": "getGlobalPolicy",
                "summary": "The global default policy",
                "description": "What applies to every model without a policy of its own.",
                "tags": ["policies"],
                "responses": {
                    "200": _json("Policy", "The global default in force."),
                    "401": _response_ref("Unauthorized"),
                },
            },
            "put": _policy_put(
                "Save new rules as the next revision of the global default",
                "Superusers only (refusals are audited). Applies at once to every model without a policy of "
                "its own.",
                "reviseGlobalPolicy",
                with_404=False,
            ),
        },
        "/policy/revisions/{number}": {
            "parameters": [revision],
            "get": {
                "operationId": "getGlobalPolicyRevision",
                "summary": "One revision of the global default",
                "tags": ["policies"],
                "responses": {"200": _json("PolicyRevision", "The revision."), **read_errors},
            },
        },
        "/models/{name}/versions/{number}/gate-runs": {
            "parameters": [name, number],
            "get": {
                "operationId": "listGateRuns",
                "summary": "The version's gate runs, newest first",
                "tags": ["gates"],
                "responses": {"200": _json("GateRunList", "Every gate run of the version."), **read_errors},
            },
            "post": {
                "operationId": "startGateRun",
                "summary": "Run the gate for the next stage up",
                "description": (
                    "Records a gate run and queues it for a worker; the answer does not wait for the checks. "
                    "Poll the run's `api_url` until `state` is passed, failed or error. Asking again while a "
                    "run for the same stage is queued or running answers that run. If the broker is "
                    "unreachable the run is still recorded (`enqueued_at` null) and the sweeper queues it "
                    "when the broker is back. Needs the permission to request promotion (refusals are "
                    "audited)."
                ),
                "tags": ["gates"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("GateRunRequest"),
                            "examples": {"to-production": {"value": {"target_stage": "production"}}},
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted: the run is queued (or already open).",
                        "headers": {
                            "Location": {
                                "schema": {"type": "string", "format": "uri"},
                                "description": "This API's URL of the gate run.",
                            }
                        },
                        "content": {"application/json": {"schema": _ref("GateRun")}},
                    },
                    "400": _response_ref("BadRequest"),
                    "401": _response_ref("Unauthorized"),
                    "403": _response_ref("Forbidden"),
                    "404": _response_ref("NotFound"),
                    "409": _error(
                        "The version is not in the stage just below `target_stage` (a draft is gated for "
                        "staging, a staging version for production); the refusal is audited.",
                        ["not_next_stage"],
                    ),
                },
            },
        },
        "/models/{name}/versions/{number}/gate-runs/{run_id}": {
            "parameters": [name, number, run_id],
            "get": {
                "operationId": "getGateRun",
                "summary": "One gate run with its check results",
                "tags": ["gates"],
                "responses": {
                    "200": _json("GateRunDetail", "The run, its progress and, once finished, its results."),
                    **read_errors,
                },
            },
        },
    }


def _request_paths(name: dict, number: dict, read_errors: dict) -> dict:
    promotion_id = {
        "name": "promotion_id",
        "in": "path",
        "required": True,
        "description": "The promotion request's id.",
        "schema": {"type": "integer", "minimum": 1},
    }

    def body(schema: str, examples: dict) -> dict:
        return {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _ref(schema),
                    "examples": {key: {"value": value} for key, value in examples.items()},
                }
            },
        }

    write_errors = {
        "400": _response_ref("BadRequest"),
        "401": _response_ref("Unauthorized"),
        "403": _response_ref("Forbidden"),
        "404": _response_ref("NotFound"),
    }
    return {
        "/models/{name}/versions/{number}/promotions": {
            "parameters": [name, number],
            "get": {
                "operationId": "listPromotionRequests",
                "summary": "The version's promotion requests, newest first",
                "tags": ["promotions"],
                "responses": {
                    "200": _json("PromotionRequestList", "Every promotion request of the version."),
                    **read_errors,
                },
            },
            "post": {
                "operationId": "requestPromotion",
                "summary": "Ask for the version to move up one stage",
                "description": (
                    "Records the request with a gate run and queues the run; the answer does not wait for "
                    "the checks. The request moves to awaiting_signoff when the gate passes (checks_failed "
                    "otherwise), and the approval that completes the sign-offs the policy asks for makes "
                    "the move. One open request per version and target stage. Needs the permission to "
                    "request promotion (refusals are audited). Session callers send the CSRF token in the "
                    "X-CSRFToken header."
                ),
                "tags": ["promotions"],
                "requestBody": body(
                    "PromotionRequestCreate",
                    {
                        "to-staging": {
                            "target_stage": "staging",
                            "justification": "Better recall on new merchants; see the slice report.",
                        }
                    },
                ),
                "responses": {
                    "201": {
                        "description": "Requested: the request, in state checking.",
                        "headers": {
                            "Location": {
                                "schema": {"type": "string", "format": "uri"},
                                "description": "This API's URL of the request.",
                            }
                        },
                        "content": {"application/json": {"schema": _ref("PromotionRequestDetail")}},
                    },
                    **write_errors,
                    "409": _error(
                        "The version is not in the stage just below `target_stage`, or a request for the "
                        "same move is already open; the refusal is audited.",
                        ["not_next_stage", "request_open"],
                    ),
                },
            },
        },
        "/models/{name}/promotions/{promotion_id}": {
            "parameters": [name, promotion_id],
            "get": {
                "operationId": "getPromotionRequest",
                "summary": "One promotion request with its gate run and sign-offs",
                "tags": ["promotions"],
                "responses": {
                    "200": _json("PromotionRequestDetail", "The request, its gate run and its sign-offs."),
                    **read_errors,
                },
            },
        },
        "/models/{name}/promotions/{promotion_id}/signoffs": {
            "parameters": [name, promotion_id],
            "post": {
                "operationId": "signOff",
                "summary": "Approve or reject a promotion request",
                "description": (
                    "The sign-off is bound to the request's current gate run. Approval needs a passed gate, "
                    "or `override` with the override permission and a written justification in `comment`; "
                    "a rejection needs a comment and closes the request. The approval that completes what "
                    "the policy asks for makes the move in the same transaction (`promotion_request.state` "
                    "approved). Only people holding the role the policy names may sign, never the "
                    "requester nor the version's registrant (four eyes): 403, audited."
                ),
                "tags": ["promotions"],
                "requestBody": body(
                    "SignOffCreate",
                    {
                        "approve": {"decision": "approve", "comment": "Slices look fine."},
                        "reject": {"decision": "reject", "comment": "region=EU regressed; retrain first."},
                    },
                ),
                "responses": {
                    "201": _json("SignOffRecorded", "Signed: the sign-off and the request as it is now."),
                    **write_errors,
                    "409": _error(
                        "The request's state refuses the sign-off: it is closed, the caller already "
                        "signed it, the policy changed since its gate ran (the request is then superseded), "
                        "the gate has not passed or is still running, an override was asked of a gate "
                        "that passed, or the gate ran again since the run the caller read.",
                        [
                            "request_closed",
                            "already_signed",
                            "gate_run_changed",
                            "policy_changed",
                            "gate_not_passed",
                            "gate_running",
                            "override_not_needed",
                        ],
                    ),
                },
            },
        },
        "/models/{name}/promotions/{promotion_id}/cancel": {
            "parameters": [name, promotion_id],
            "post": {
                "operationId": "cancelPromotionRequest",
                "summary": "Withdraw an open promotion request",
                "description": "The requester may, and so may a superuser; others get 403 (audited).",
                "tags": ["promotions"],
                "requestBody": body(
                    "PromotionCancel", {"withdraw": {"reason": "Found a bug in the features."}}
                ),
                "responses": {
                    "200": _json("PromotionRequestDetail", "Cancelled: the request as it is now."),
                    **write_errors,
                    "409": _error("The request is already closed.", ["request_closed"]),
                },
            },
        },
        "/models/{name}/versions/{number}/archive": {
            "parameters": [name, number],
            "post": {
                "operationId": "archiveVersion",
                "summary": "Retire a version",
                "description": (
                    "Moves the version to Archived through the one stage-change service. Needs the archive "
                    "permission; archiving the production version also needs the approver's, and leaves "
                    "nothing in production. The version's open requests, and the model's requests to "
                    "Production when production changes, are superseded."
                ),
                "tags": ["versions"],
                "requestBody": body("VersionArchive", {"retire": {"reason": "Replaced by v8."}}),
                "responses": {
                    "200": _json("VersionSummary", "Archived: the version as it is now."),
                    **write_errors,
                    "409": _error(
                        "The version is already archived, or reached Production since it was read.",
                        ["already_in_stage", "stage_changed"],
                    ),
                },
            },
        },
    }


def _security_schemes() -> dict:
    return {
        "bearerToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "wh_<prefix>_<secret>",
            "description": (
                "A personal API token (Account → API tokens), sent as `Authorization: Bearer <token>`. "
                "Audit events record it as `api-token:<prefix>`."
            ),
        },
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "A signed-in browser's session. Unsafe methods (POST) also need the CSRF token, as on the "
                "pages; without it they answer 403 `csrf_failed`."
            ),
        },
    }


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Warehouse API",
            "version": "1",
            "description": (
                "Register model versions with their evidence, read models and versions, ask what is in "
                "production, read and revise promotion policies, run quality gates, request promotion "
                "and sign off, read and revise model cards and export them.\n\n"
                'Every error is JSON: `{"error": {"code", "message", "fields"?}}` with status 400 (bad '
                "input, nothing written), 401 (no or bad credentials), 403 (not allowed; recorded in the "
                "audit trail), 404 (no such thing, or not visible to the caller), 405 (method not allowed; "
                "see the Allow header) or 409 (the current state refuses it). The production lookup may "
                "also answer 304 (not modified, for pollers) and 503 with Retry-After (the database cannot "
                "be reached: nothing is answered rather than a guess).\n\n"
                "Permissions are per model: a model the caller may not see does not exist for them (404)."
            ),
        },
        "servers": [{"url": f"{settings.WAREHOUSE_BASE_URL}/api/v1"}],
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
        "tags": [
            {"name": "models"},
            {"name": "versions"},
            {"name": "serving"},
            {"name": "policies"},
            {"name": "gates"},
            {"name": "promotions"},
            {"name": "cards"},
            {"name": "meta"},
        ],
        "paths": _paths(),
        "components": {
            "schemas": {
                **_registration_schemas(),
                **_response_schemas(),
                **_policy_schemas(),
                **_gate_schemas(),
                **_promotion_schemas(),
                **_card_schemas(),
            },
            "responses": _responses(),
            "securitySchemes": _security_schemes(),
        },
    }
