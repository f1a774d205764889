"""Reading a candidate's evidence from plain data (a JSON body, or a form turned into one).

One parser for every door, so the API and the page give the same answers. It returns frozen values or
raises InvalidInput naming each bad field by its path (`artifacts[2].sha256`); it never touches the
database.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from warehouse.errors import InvalidInput
from warehouse.registry.field_reader import FieldReader
from warehouse.registry.models import DESCRIPTION_MAX_LENGTH, ArtifactKind, MetricDirection
from warehouse.registry.uris import UriRefused, is_web_link, uri_validate

MAX_ARTIFACTS = 100
MAX_METRICS = 200
MAX_SLICES = 10_000

METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-/@:]{0,99}$")
SLICE_PART = r"[A-Za-z0-9_.\-]+=[^,=\s](?:[^,=]*[^,=\s])?"
SLICE_KEY = re.compile(rf"^{SLICE_PART}(?:,{SLICE_PART})*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
GIT_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")

# Metrics whose direction every practitioner agrees on; any other metric must say which way is better.
KNOWN_DIRECTIONS = {
    **dict.fromkeys(
        [
            "auc",
            "roc_auc",
            "pr_auc",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "ndcg",
            "ndcg@10",
            "map",
            "mrr",
            "r2",
            "sensitivity",
            "specificity",
            "top1_accuracy",
            "top5_accuracy",
            "bleu",
            "rouge_l",
            "csat",
        ],
        MetricDirection.HIGHER_IS_BETTER,
    ),
    **dict.fromkeys(
        [
            "loss",
            "log_loss",
            "logloss",
            "rmse",
            "mae",
            "mse",
            "mape",
            "smape",
            "wape",
            "brier",
            "error_rate",
            "fpr",
            "fnr",
            "false_positive_rate",
            "false_negative_rate",
            "ece",
            "hallucination_rate",
            "perplexity",
        ],
        MetricDirection.LOWER_IS_BETTER,
    ),
}
DIRECTION_ALIASES = {
    "higher": MetricDirection.HIGHER_IS_BETTER,
    "higher_is_better": MetricDirection.HIGHER_IS_BETTER,
    "max": MetricDirection.HIGHER_IS_BETTER,
    "lower": MetricDirection.LOWER_IS_BETTER,
    "lower_is_better": MetricDirection.LOWER_IS_BETTER,
    "min": MetricDirection.LOWER_IS_BETTER,
}


@dataclass(frozen=True)
class ArtifactIn:
    name: str
    kind: str
    uri: str
    sha256: str
    size_bytes: int | None


@dataclass(frozen=True)
class SourceRunIn:
    tracking_system: str
    run_id: str
    url: str
    git_commit: str
    training_data: str


@dataclass(frozen=True)
class MetricIn:
    name: str
    value: float
    direction: str


@dataclass(frozen=True)
class SliceIn:
    slice_key: str
    metric: str
    value: float
    sample_count: int


@dataclass(frozen=True)
class EvaluationIn:
    dataset: str
    dataset_version: str
    metrics: tuple[MetricIn, ...]
    slices: tuple[SliceIn, ...]


@dataclass(frozen=True)
class ProfileIn:
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    hardware: str
    throughput_rps: float | None
    cost_per_1k_predictions: Decimal | None
    currency: str


@dataclass(frozen=True)
class Evidence:
    description: str
    artifacts: tuple[ArtifactIn, ...]
    source_run: SourceRunIn | None
    evaluation: EvaluationIn | None
    profile: ProfileIn | None


def _artifacts(reader: FieldReader, value: Any) -> tuple[ArtifactIn, ...]:
    entries = reader.items(value, "artifacts", maximum=MAX_ARTIFACTS, required=True)
    if value is not None and isinstance(value, list) and not value:
        reader.error("artifacts", "Register at least one artifact (the weights, at least).")
    artifacts, names = [], set()
    for index, raw in enumerate(entries):
        path = f"artifacts[{index}]"
        item = reader.obj(raw, path, {"name", "kind", "uri", "sha256", "size_bytes"})
        if item is None:
            continue
        name = reader.text(item, "name", path, max_length=200)
        kind = reader.text(item, "kind", path, max_length=16)
        if kind and kind not in ArtifactKind.values:
            reader.error(
                f"{path}.kind", f"Unknown kind {kind!r}; use one of: {', '.join(ArtifactKind.values)}."
            )
        uri = reader.text(item, "uri", path, max_length=2048)
        if uri:
            try:
                uri_validate(uri)
            except UriRefused as refusal:
                reader.error(f"{path}.uri", str(refusal))
        sha256 = reader.text(item, "sha256", path, max_length=64, required=False).lower()
        if sha256 and not SHA256.match(sha256):
            reader.error(f"{path}.sha256", "Must be 64 hexadecimal characters (a SHA-256 digest).")
        size = reader.integer(item, "size_bytes", path, required=False)
        if name in names:
            reader.error(f"{path}.name", f"Artifact name {name!r} appears twice.")
        names.add(name)
        artifacts.append(ArtifactIn(name=name, kind=kind, uri=uri, sha256=sha256, size_bytes=size))
    return tuple(artifacts)


def _source_run(reader: FieldReader, value: Any) -> SourceRunIn | None:
    path = "source_run"
    item = reader.obj(
        value, path, {"tracking_system", "run_id", "url", "git_commit", "training_data"}, required=False
    )
    if item is None:
        return None
    url = reader.text(item, "url", path, max_length=2048, required=False)
    if url and not is_web_link(url):
        reader.error(f"{path}.url", "Must be an http:// or https:// link to the run in its tracking system.")
    return SourceRunIn(
        tracking_system=reader.text(item, "tracking_system", path, max_length=50),
        run_id=reader.text(item, "run_id", path, max_length=200),
        url=url,
        git_commit=reader.text(
            item,
            "git_commit",
            path,
            max_length=64,
            required=False,
            pattern=GIT_COMMIT,
            pattern_help="Must be a git commit hash (7 to 64 lower-case hexadecimal characters).",
        ),
        training_data=reader.text(item, "training_data", path, max_length=2048, required=False),
    )


def _direction(reader: FieldReader, raw: Any, name: str, path: str) -> str:
    if raw is None or raw == "":
        known = KNOWN_DIRECTIONS.get(name.lower())
        if known is None:
            reader.error(path, f"Say whether higher or lower is better for {name!r}: 'higher' or 'lower'.")
            return ""
        return known
    if not isinstance(raw, str) or raw.lower() not in DIRECTION_ALIASES:
        reader.error(path, "Must be 'higher' or 'lower'.")
        return ""
    direction = DIRECTION_ALIASES[raw.lower()]
    known = KNOWN_DIRECTIONS.get(name.lower())
    if known is not None and direction != known:
        # A gate compares with the declared direction: a wrong one would turn a regression into a gain.
        reader.error(path, f"{name} is {known}-is-better by definition; {raw!r} contradicts it.")
        return ""
    return direction


def _evaluation(reader: FieldReader, value: Any) -> EvaluationIn | None:
    path = "evaluation"
    item = reader.obj(value, path, {"dataset", "dataset_version", "metrics", "slices"}, required=False)
    if item is None:
        return None
    return EvaluationIn(
        dataset=reader.text(item, "dataset", path, max_length=200),
        dataset_version=reader.text(item, "dataset_version", path, max_length=100, required=False),
        metrics=_evaluation_metrics(reader, item.get("metrics"), f"{path}.metrics"),
        slices=_evaluation_slices(reader, item.get("slices"), f"{path}.slices"),
    )


def _metric_name(reader: FieldReader, item: dict, key: str, path: str) -> str:
    return reader.text(
        item,
        key,
        path,
        max_length=100,
        pattern=METRIC_NAME,
        pattern_help="Start with a letter; letters, digits and _ . - / @ : only.",
    )


def _evaluation_metrics(reader: FieldReader, value: Any, path: str) -> tuple[MetricIn, ...]:
    metrics, metric_names = [], set()
    for index, raw in enumerate(reader.items(value, path, maximum=MAX_METRICS, required=True)):
        mpath = f"{path}[{index}]"
        metric = reader.obj(raw, mpath, {"name", "value", "direction"})
        if metric is None:
            continue
        name = _metric_name(reader, metric, "name", mpath)
        number = reader.number(metric, "value", mpath)
        direction = _direction(reader, metric.get("direction"), name, f"{mpath}.direction") if name else ""
        if name in metric_names:
            reader.error(f"{mpath}.name", f"Metric {name!r} appears twice.")
        metric_names.add(name)
        if name and number is not None and direction:
            metrics.append(MetricIn(name=name, value=number, direction=direction))
    return tuple(metrics)


def _evaluation_slices(reader: FieldReader, value: Any, path: str) -> tuple[SliceIn, ...]:
    slices, slice_keys = [], set()
    for index, raw in enumerate(reader.items(value, path, maximum=MAX_SLICES, required=False)):
        spath = f"{path}[{index}]"
        entry = reader.obj(raw, spath, {"slice", "metric", "value", "sample_count"})
        if entry is None:
            continue
        key = reader.text(
            entry,
            "slice",
            spath,
            max_length=200,
            pattern=SLICE_KEY,
            pattern_help="Write a slice as key=value, several joined by commas (region=EU,device=mobile).",
        )
        metric_name = _metric_name(reader, entry, "metric", spath)
        number = reader.number(entry, "value", spath)
        # The column is a PostgreSQL integer: anything larger would fail in the database, not here.
        count = reader.integer(entry, "sample_count", spath, minimum=1, maximum=2**31 - 1)
        if (key, metric_name) in slice_keys:
            reader.error(spath, f"Slice {key!r} has metric {metric_name!r} twice.")
        slice_keys.add((key, metric_name))
        if key and metric_name and number is not None and count is not None:
            slices.append(SliceIn(slice_key=key, metric=metric_name, value=number, sample_count=count))
    return tuple(slices)


def _profile(reader: FieldReader, value: Any) -> ProfileIn | None:
    path = "profile"
    fields = {
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "hardware",
        "throughput_rps",
        "cost_per_1k_predictions",
        "currency",
    }
    item = reader.obj(value, path, fields, required=False)
    if item is None:
        return None
    p50 = reader.number(item, "latency_p50_ms", path, minimum=0)
    p95 = reader.number(item, "latency_p95_ms", path, minimum=0)
    p99 = reader.number(item, "latency_p99_ms", path, minimum=0)
    if None not in (p50, p95, p99) and not (p50 <= p95 <= p99):
        reader.error(f"{path}.latency_p95_ms", "Percentiles must not decrease: p50 ≤ p95 ≤ p99.")
    cost = None
    raw_cost = item.get("cost_per_1k_predictions")
    if raw_cost not in (None, ""):
        if reader.number(item, "cost_per_1k_predictions", path, minimum=0) is not None:
            try:
                cost = Decimal(str(raw_cost)).quantize(Decimal("0.000001"))
            except InvalidOperation:
                reader.error(f"{path}.cost_per_1k_predictions", "Must be a number.")
            else:
                if cost >= Decimal("1e8"):
                    reader.error(f"{path}.cost_per_1k_predictions", "Too large.")
    currency = (
        reader.text(
            item,
            "currency",
            path,
            max_length=3,
            required=False,
            pattern=CURRENCY,
            pattern_help="A three-letter currency code such as USD or EUR.",
        )
        or "USD"
    )
    return ProfileIn(
        latency_p50_ms=p50 or 0.0,
        latency_p95_ms=p95 or 0.0,
        latency_p99_ms=p99 or 0.0,
        hardware=reader.text(item, "hardware", path, max_length=200, required=False),
        throughput_rps=reader.number(item, "throughput_rps", path, required=False, minimum=0),
        cost_per_1k_predictions=cost,
        currency=currency,
    )


EVIDENCE_FIELDS = {"description", "artifacts", "source_run", "evaluation", "profile"}


def evidence_parse(
    payload: Any,
    *,
    other_fields: frozenset[str] = frozenset(),
    hashed_artifacts: tuple[ArtifactIn, ...] | None = None,
) -> Evidence:
    """Read evidence from `payload`; `other_fields` are top-level keys the caller reads itself.

    `hashed_artifacts` are files the warehouse listed and hashed itself (an import from a tracked run): they
    are the version's artifacts, and the payload gives none."""
    reader = FieldReader()
    fields = EVIDENCE_FIELDS - {"artifacts"} if hashed_artifacts is not None else EVIDENCE_FIELDS
    data = reader.obj(payload, "", fields | set(other_fields))
    if data is None:
        raise InvalidInput({"body": ["The body must be a JSON object."]})
    evidence = Evidence(
        description=reader.text(
            data, "description", "", max_length=DESCRIPTION_MAX_LENGTH, required=False, multiline=True
        ),
        artifacts=(
            hashed_artifacts if hashed_artifacts is not None else _artifacts(reader, data.get("artifacts"))
        ),
        source_run=_source_run(reader, data.get("source_run")),
        evaluation=_evaluation(reader, data.get("evaluation")),
        profile=_profile(reader, data.get("profile")),
    )
    if reader.errors:
        raise InvalidInput(reader.errors)
    return evidence
