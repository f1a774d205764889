"""A tracked run's evidence, read the documented way. Pure: data in (the run as MLflow's `runs/get` gives it,
the evaluation artifact, the files the warehouse hashed), Evidence out, or InvalidInput naming what is wrong.

What the run must hold (README, "Registering from a tracked run"):
- overall metrics: the run's metrics. Well-known names (auc, log_loss, …) carry their direction; any other
  needs a run tag `warehouse.direction.<metric>` = higher or lower. One with neither is left out and said so.
- the profile: the metrics latency_p50_ms, latency_p95_ms and latency_p99_ms (all three), and optionally
  throughput_rps and cost_per_1k_predictions, with the tags warehouse.profile.hardware and
  warehouse.profile.currency.
- slices: the artifact `warehouse/evaluation.json` at the run's root, the API's `evaluation` block
  (`dataset`, `dataset_version`, `slices`, and `metrics` that take the place of the run's metric of the same
  name).
- the source: the tag mlflow.source.git.commit, and the datasets logged as inputs with the context
  `training` and `evaluation` (`mlflow.data.context`).
"""

import json
import math
from dataclasses import dataclass

from warehouse.registry.evidence import (
    GIT_COMMIT,
    KNOWN_DIRECTIONS,
    MAX_METRICS,
    METRIC_NAME,
    ArtifactIn,
    Evidence,
    evidence_parse,
)
from warehouse.registry.models import ArtifactKind

EVALUATION_ARTIFACT = "warehouse/evaluation.json"
DIRECTION_TAG = "warehouse.direction."
PROFILE_LATENCIES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
PROFILE_OPTIONAL = ("throughput_rps", "cost_per_1k_predictions")
PROFILE_TAGS = {"hardware": "warehouse.profile.hardware", "currency": "warehouse.profile.currency"}
GIT_COMMIT_TAG = "mlflow.source.git.commit"
CONTEXT_TAG = "mlflow.data.context"

# What a file of an MLflow model directory is, by its name.
_ENVIRONMENT_FILES = {"conda.yaml", "python_env.yaml", "requirements.txt", "environment.yml"}
_WEIGHT_SUFFIXES = (
    ".pkl",
    ".skops",
    ".joblib",
    ".pt",
    ".pth",
    ".bin",
    ".safetensors",
    ".onnx",
    ".h5",
    ".keras",
    ".ubj",
    ".json.gz",
    ".cbm",
    ".lgb",
    ".xgb",
    ".pb",
)


@dataclass(frozen=True)
class HashedFile:
    path: str  # inside the model's directory
    sha256: str
    size: int


@dataclass(frozen=True)
class RunEvidence:
    evidence: Evidence
    notes: tuple[str, ...]  # what was read and not kept, for the version page


def artifact_kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name == "mlmodel":
        return ArtifactKind.CONFIG
    if name in _ENVIRONMENT_FILES:
        return ArtifactKind.ENVIRONMENT
    if name in {"input_example.json", "serving_input_example.json"} or "signature" in name:
        return ArtifactKind.SIGNATURE
    if "tokenizer" in path.lower():
        return ArtifactKind.TOKENIZER
    if name.endswith(_WEIGHT_SUFFIXES) or path.lower().startswith("data/"):
        return ArtifactKind.WEIGHTS
    return ArtifactKind.OTHER


def run_evidence_read(
    *,
    run: dict,
    run_url: str,
    model_root: str,
    files: list[HashedFile],
    evaluation_document: dict | None,
    description: str,
) -> RunEvidence:
    """The evidence of the version whose files are `files` (under `model_root`, an mlflow-artifacts URI),
    made by `run`."""
    notes: list[str] = []
    data = run.get("data") or {}
    tags = {tag.get("key"): tag.get("value") for tag in data.get("tags") or [] if isinstance(tag, dict)}
    metrics = _latest_metrics(data.get("metrics") or [])
    datasets = _datasets_by_context(run.get("inputs") or {})
    payload = {
        "description": description,
        "source_run": _source_run(run, run_url, tags, datasets, notes),
        "profile": _profile(metrics, tags, notes),
    }
    payload["evaluation"] = _evaluation(metrics, tags, datasets, evaluation_document, notes)
    artifacts = tuple(
        ArtifactIn(
            name=hashed.path,
            kind=artifact_kind(hashed.path),
            uri=f"{model_root.rstrip('/')}/{hashed.path}",
            sha256=hashed.sha256,
            size_bytes=hashed.size,
        )
        for hashed in files
    )
    evidence = evidence_parse({k: v for k, v in payload.items() if v is not None}, hashed_artifacts=artifacts)
    return RunEvidence(evidence=evidence, notes=tuple(notes))


def _latest_metrics(entries: list) -> dict[str, float]:
    """`runs/get` gives each metric's latest value; a history would repeat a key, the last step wins."""
    latest: dict[str, tuple[int, float]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            continue
        step = entry.get("step") or 0
        if entry["key"] not in latest or step >= latest[entry["key"]][0]:
            latest[entry["key"]] = (step, entry.get("value"))
    return {key: value for key, (_, value) in latest.items()}


def _datasets_by_context(inputs: dict) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for item in inputs.get("dataset_inputs") or []:
        if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
            continue
        context = next(
            (
                t.get("value")
                for t in item.get("tags") or []
                if isinstance(t, dict) and t.get("key") == CONTEXT_TAG
            ),
            "",
        )
        found.setdefault(str(context or ""), item["dataset"])
    return found


def _dataset_reference(dataset: dict) -> str:
    name, digest = str(dataset.get("name") or ""), str(dataset.get("digest") or "")
    reference = f"{name}@{digest}" if digest else name
    location = _dataset_location(dataset)
    if location:
        reference += f" ({location})"
    return reference[:2048]


def _dataset_location(dataset: dict) -> str:
    """Where the dataset lives, as MLflow records it: its source is JSON (`{"uri": "s3://…"}`, `{"path": …}`,
    `{"url": …}`). A dataset built in code has its logging script's tags for a source: no location."""
    source = dataset.get("source")
    if dataset.get("source_type") == "code" or not isinstance(source, str) or not source:
        return ""
    try:
        document = json.loads(source)
    except ValueError:
        return source[:1500]
    if isinstance(document, dict):
        for key in ("uri", "url", "path", "table_name"):
            if isinstance(document.get(key), str) and document[key]:
                return document[key][:1500]
        return ""
    return source[:1500]


def _source_run(run: dict, run_url: str, tags: dict, datasets: dict, notes: list[str]) -> dict:
    commit = str(tags.get(GIT_COMMIT_TAG) or "").strip().lower()
    if commit and not GIT_COMMIT.match(commit):
        notes.append(f"The run's git commit {commit[:80]!r} is not a commit hash; it was left out.")
        commit = ""
    training = datasets.get("training") or datasets.get("train")
    return {
        "tracking_system": "mlflow",
        "run_id": (run.get("info") or {}).get("run_id", ""),
        "url": run_url,
        "git_commit": commit,
        "training_data": _dataset_reference(training) if training else "",
    }


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _profile(metrics: dict, tags: dict, notes: list[str]) -> dict | None:
    present = [name for name in PROFILE_LATENCIES if _finite(metrics.get(name))]
    if not present:
        return None
    if len(present) < len(PROFILE_LATENCIES):
        missing = ", ".join(name for name in PROFILE_LATENCIES if name not in present)
        notes.append(f"No latency profile: the run logged {', '.join(present)} but not {missing}.")
        return None
    profile = {name: metrics[name] for name in PROFILE_LATENCIES}
    profile.update({name: metrics[name] for name in PROFILE_OPTIONAL if _finite(metrics.get(name))})
    profile.update({field: tags[tag] for field, tag in PROFILE_TAGS.items() if tags.get(tag)})
    return profile


def _overall_metrics(metrics: dict, tags: dict, notes: list[str]) -> list[dict]:
    kept, unknown, unreadable = [], [], []
    for name, value in sorted(metrics.items()):
        if name in PROFILE_LATENCIES or name in PROFILE_OPTIONAL:
            continue
        if not METRIC_NAME.match(name) or not _finite(value):
            unreadable.append(name)
            continue
        direction = tags.get(f"{DIRECTION_TAG}{name}") or KNOWN_DIRECTIONS.get(name.lower())
        if not direction:
            unknown.append(name)
            continue
        kept.append({"name": name, "value": value, "direction": str(direction)})
    if unknown:
        notes.append(
            f"Left out {len(unknown)} metric(s) of unknown direction: {', '.join(unknown[:20])}. Tag the run "
            f"with {DIRECTION_TAG}<metric> = higher or lower to keep them."
        )
    if unreadable:
        notes.append(f"Left out metric(s) with unusable names or values: {', '.join(unreadable[:20])}.")
    if len(kept) > MAX_METRICS:
        notes.append(f"Kept the first {MAX_METRICS} of {len(kept)} metrics, by name.")
        kept = kept[:MAX_METRICS]
    return kept


def _evaluation(
    metrics: dict, tags: dict, datasets: dict, document: dict | None, notes: list[str]
) -> dict | None:
    overall = _overall_metrics(metrics, tags, notes)
    evaluation_set = datasets.get("evaluation") or datasets.get("eval") or datasets.get("test") or {}
    if document is None:
        if not overall:
            return None
        notes.append(f"No {EVALUATION_ARTIFACT} in the run: no slices were imported.")
        return {
            "dataset": str(evaluation_set.get("name") or "the run's evaluation")[:200],
            "dataset_version": str(evaluation_set.get("digest") or "")[:100],
            "metrics": overall,
        }
    return _evaluation_of_artifact(document, overall, evaluation_set)


def _evaluation_of_artifact(document: dict, overall: list[dict], evaluation_set: dict) -> dict:
    """The artifact is the API's evaluation block; its metrics take the place of the run's of the same name,
    and the evaluation dataset logged as an input names the dataset when the artifact does not."""
    evaluation = dict(document)
    given = evaluation.get("metrics")
    if isinstance(given, list):
        named = {m.get("name") for m in given if isinstance(m, dict)}
        evaluation["metrics"] = [*given, *(m for m in overall if m["name"] not in named)]
    elif given is None:
        evaluation["metrics"] = overall
    if not evaluation.get("dataset") and evaluation_set:
        evaluation["dataset"] = str(evaluation_set.get("name") or "")[:200]
        evaluation.setdefault("dataset_version", str(evaluation_set.get("digest") or "")[:100])
    return evaluation
