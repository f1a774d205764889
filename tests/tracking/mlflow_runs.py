"""Real runs logged with the real MLflow client to a TrackingServerProcess: the evidence a candidate version
is imported from.

A run carries what a training pipeline would log: a scikit-learn model (in MLflow 3 a LoggedModel whose
files lie under its own artifact location, linked to the run as an output), overall metrics with the
direction of a custom one in a tag, a latency and cost profile, an evaluation by slice as a JSON artifact
at `warehouse/evaluation.json`, its training and evaluation datasets with their digests, and the commit it
was trained from. What the server stored is read back from its disk, so a test knows the true digests
without asking the server.
"""

import hashlib
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.tracking.mlflow_server import TrackingServerProcess

EVALUATION_ARTIFACT = "warehouse/evaluation.json"
MODEL_NAME = "model"
EXPERIMENT = "loans-approval"
HARDWARE = "c6i.large"
TRAINING_PARAMS = {"C": "0.5", "max_iter": "200", "rows": "64"}

OVERALL_METRICS = {"auc": 0.912, "log_loss": 0.281, "approval_rate": 0.634}
PROFILE_METRICS = {
    "latency_p50_ms": 3.1,
    "latency_p95_ms": 7.4,
    "latency_p99_ms": 12.9,
    "throughput_rps": 850.0,
    "cost_per_1k_predictions": 0.021,
}
RUN_TAGS = {
    "warehouse.direction.approval_rate": "higher",
    "warehouse.profile.hardware": HARDWARE,
    "warehouse.profile.currency": "USD",
}
# The same shape as the `evaluation` block of Warehouse's registration API.
EVALUATION = {
    "dataset": "loans-eval",
    "dataset_version": "2026-11",
    "slices": [
        {"slice": "region=EU", "metric": "auc", "value": 0.91, "sample_count": 1200},
        {"slice": "region=US", "metric": "auc", "value": 0.93, "sample_count": 3400},
        {"slice": "region=EU", "metric": "log_loss", "value": 0.29, "sample_count": 1200},
        {"slice": "region=US", "metric": "log_loss", "value": 0.27, "sample_count": 3400},
    ],
}
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class TrackedRun:
    run_id: str
    experiment_id: str
    model_id: str  # the LoggedModel, "m-..."
    artifact_uri: str  # the run's own artifacts: "mlflow-artifacts:/<experiment>/<run_id>/artifacts"
    model_artifact_uri: str  # the LoggedModel's: "mlflow-artifacts:/<experiment>/models/<m-...>/artifacts"
    model_files: dict[str, tuple[str, int]]  # path inside the model directory: (sha256 hex, size in bytes)
    git_commit: str
    dataset_digests: dict[str, str]  # context ("training", "evaluation"): MLflow's dataset digest
    evaluation: dict | None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # how long logging took

    @property
    def model_uri(self) -> str:
        return f"runs:/{self.run_id}/{MODEL_NAME}"

    @property
    def logged_model_uri(self) -> str:
        return f"models:/{self.model_id}"


@contextmanager
def tracking_uri(url: str):
    """The client's tracking URI for a while; whatever was set before (or nothing) afterwards."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(url)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)


def log_tracked_run(
    server: TrackingServerProcess,
    *,
    evaluation: dict | None = EVALUATION,
    big_file_bytes: int = 0,
    big_file_name: str = "weights.bin",
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    git_commit: str | None = None,
    experiment: str = EXPERIMENT,
) -> TrackedRun:
    """Log one run as a training pipeline would. `evaluation=None` leaves out the evaluation artifact;
    `big_file_bytes` adds a file of random bytes of that size to the model directory; `metrics` and `tags`
    add to (or replace) the standard ones."""
    import mlflow
    from mlflow import MlflowClient

    began = time.monotonic()
    git_commit = git_commit or secrets.token_hex(20)
    all_metrics = {**OVERALL_METRICS, **PROFILE_METRICS, **(metrics or {})}
    all_tags = {**RUN_TAGS, "mlflow.source.git.commit": git_commit, **(tags or {})}
    with tracking_uri(server.url):
        client = MlflowClient(tracking_uri=server.url)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            model_id = _log_model(mlflow)
            mlflow.log_params(TRAINING_PARAMS)
            mlflow.log_metrics(all_metrics)
            mlflow.set_tags(all_tags)
            digests = _log_datasets(mlflow)
            if evaluation is not None:
                mlflow.log_dict(evaluation, EVALUATION_ARTIFACT)
            if big_file_bytes:
                _log_big_file(client, server.root, model_id, big_file_name, big_file_bytes)
        model_artifact_uri = client.get_logged_model(model_id).artifact_location
    return TrackedRun(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        model_id=model_id,
        artifact_uri=run.info.artifact_uri,
        model_artifact_uri=model_artifact_uri,
        model_files=files_on_disk(server.local_path(model_artifact_uri)),
        git_commit=git_commit,
        dataset_digests=digests,
        evaluation=evaluation,
        metrics=all_metrics,
        tags=all_tags,
        seconds=time.monotonic() - began,
    )


def delete_run(server: TrackingServerProcess, run_id: str) -> None:
    """Delete a run as a user would (its lifecycle_stage becomes "deleted"; its files stay)."""
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=server.url).delete_run(run_id)


def overwrite_model_file(
    server: TrackingServerProcess, run: TrackedRun, relative_path: str, data: bytes | None = None
) -> tuple[str, int]:
    """Change one file of the run's model behind the server's back (an artifact store that is not
    immutable); returns its new (sha256, size)."""
    path = server.local_path(run.model_artifact_uri) / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"{relative_path} is not a file of {run.model_artifact_uri}")
    data = secrets.token_bytes(64) if data is None else data
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def files_on_disk(directory: Path) -> dict[str, tuple[str, int]]:
    """{path relative to `directory`, with forward slashes: (sha256 hex, size)} for every file below it."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
            files[path.relative_to(directory).as_posix()] = (digest.hexdigest(), path.stat().st_size)
    return files


def _log_model(mlflow) -> str:
    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.linear_model import LogisticRegression

    features, labels = _loans(np, pd, rows=64, seed=7)
    model = LogisticRegression(C=0.5, max_iter=200).fit(features, labels)
    info = mlflow.sklearn.log_model(
        model,
        name=MODEL_NAME,
        input_example=features.head(3),
        # Stated, not inferred: inferring starts a Python process that imports the model (seconds per run).
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    return info.model_id


def _log_datasets(mlflow) -> dict[str, str]:
    import numpy as np
    import pandas as pd

    digests = {}
    for context, name, seed in (("training", "loans-train", 11), ("evaluation", "loans-eval", 12)):
        features, labels = _loans(np, pd, rows=200, seed=seed)
        dataset = mlflow.data.from_pandas(
            features.assign(approved=labels),
            source=f"s3://loans-data/{name}/2026-11.parquet",
            targets="approved",
            name=name,
        )
        mlflow.log_input(dataset, context=context)
        digests[context] = dataset.digest
    return digests


def _loans(np, pd, *, rows: int, seed: int):
    generator = np.random.default_rng(seed)
    features = pd.DataFrame(
        generator.normal(size=(rows, 3)), columns=["income", "debt_ratio", "years_employed"]
    )
    labels = (features["income"] - features["debt_ratio"] > 0).astype("float64")
    return features, labels


def _log_big_file(client, scratch_root: Path, model_id: str, name: str, size: int) -> None:
    """Upload `size` random bytes as `name` in the model directory, through the server like any artifact."""
    scratch = scratch_root / f"upload-{secrets.token_hex(4)}"
    scratch.mkdir()
    path = scratch / name
    try:
        with path.open("wb") as stream:
            left = size
            while left:
                chunk = min(left, _CHUNK)
                stream.write(os.urandom(chunk))
                left -= chunk
        client.log_model_artifact(model_id, str(path))
    finally:
        path.unlink(missing_ok=True)
        scratch.rmdir()
