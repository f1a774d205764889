"""The demo's training pipeline: train one version of the tracked model (data/models/late-delivery-risk.yaml,
`tracked_runs`) with scikit-learn and log it as a run on an MLflow tracking server with the real MLflow
client, holding what the warehouse imports (warehouse/tracking/run_evidence.py): overall metrics (a custom
one with its direction in a tag), the latency and cost profile with its hardware and currency tags, the
evaluation by slice as warehouse/evaluation.json, the training and evaluation datasets as inputs, the git
commit, and the model itself.

Needs the mlflow package, scikit-learn, numpy and pandas (the project's test extras), imported only when a run
is logged: the rest of the demo runs without them.
"""

import importlib.metadata
import importlib.util
import warnings
from dataclasses import dataclass

from warehouse.demo.evidence import value

EVALUATION_ARTIFACT = "warehouse/evaluation.json"
NUMERIC_FEATURES = ("distance_km", "weight_kg", "promised_days", "warehouse_load")
CATEGORIES = ("warehouse", "carrier", "service")
# Distance bands for the slices: (label, from km, to km).
DISTANCE_BANDS = (("0-50km", 0, 50), ("50-300km", 50, 300), ("300-800km", 300, 800), ("800km+", 800, 1e9))


@dataclass(frozen=True)
class LoggedRun:
    number: int
    run_id: str
    source: str  # where the model is, as a pipeline names it to the registry: runs:/<run>/<path>
    metrics: dict[str, float]  # the overall metrics, as logged
    dataset: str  # the evaluation dataset's name


def training_unavailable() -> str | None:
    """Why a run cannot be logged from here, or None."""
    try:
        # The full package: mlflow-skinny, a client alone, installs the same `mlflow` module.
        importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return "the mlflow package is not installed (pip install -e '.[test]')"
    for module, package in (("sklearn", "scikit-learn"), ("pandas", "pandas")):
        if importlib.util.find_spec(module) is None:
            return f"the {package} package is not installed (pip install -e '.[test]')"
    return None


def run_log(*, tracking_url: str, model: dict, number: int) -> LoggedRun:
    """Train version `number` of `model` and log it as one run on the server at `tracking_url`."""
    import mlflow
    from mlflow import MlflowClient

    plan = model["tracked_runs"]
    version = plan["versions"][number]
    evaluation_plan = plan["datasets"]["evaluation"]
    training = deliveries(plan["deliveries"], **version["training"])
    holdout = deliveries(plan["deliveries"], rows=evaluation_plan["rows"], seed=evaluation_plan["seed"])
    estimator = _fitted(version, training)
    probabilities = estimator.predict_proba(holdout[list(version["features"])])[:, 1]
    overall = scores(holdout["late"].to_numpy(), probabilities)

    client = MlflowClient(tracking_uri=tracking_url)
    found = client.get_experiment_by_name(plan["experiment"])
    experiment_id = found.experiment_id if found else client.create_experiment(plan["experiment"])
    mlflow.set_tracking_uri(tracking_url)
    try:
        # MLflow's hint that integer columns cannot hold missing values: the label is one, and never missing.
        with (
            warnings.catch_warnings(),
            mlflow.start_run(experiment_id=experiment_id, run_name=f"{model['name']} v{number}") as run,
        ):
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            mlflow.log_params({"estimator": version["estimator"], **version["params"]})
            digests = _log_datasets(mlflow, plan["datasets"], {"training": training, "evaluation": holdout})
            mlflow.log_metrics({**overall, **_profile_metrics(version["profile"])})
            mlflow.set_tags(_tags(plan, version, number))
            evaluation = {
                "dataset": evaluation_plan["name"],
                "dataset_version": digests["evaluation"],
                "slices": slice_rows(holdout, probabilities, plan["slice_metrics"]),
            }
            mlflow.log_dict(evaluation, EVALUATION_ARTIFACT)
            _log_model(mlflow, estimator, training[list(version["features"])], plan["model_path"])
    finally:
        mlflow.set_tracking_uri(None)
    return LoggedRun(
        number=number,
        run_id=run.info.run_id,
        source=f"runs:/{run.info.run_id}/{plan['model_path']}",
        metrics=overall,
        dataset=evaluation_plan["name"],
    )


def deliveries(world: dict, *, rows: int, seed: int):
    """`rows` simulated parcels with whether each was late: more often for long distances, heavy parcels, a
    busy warehouse and a tight promise, plus what each category adds (`world`), and next-day parcels sent
    far."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "distance_km": generator.gamma(2.0, 160.0, rows).round(1),
            "weight_kg": generator.lognormal(0.8, 0.7, rows).round(2),
            "promised_days": generator.integers(1, 6, rows).astype("float64"),
            "warehouse_load": generator.beta(5, 3, rows).round(3),
            **{category: generator.choice(list(world[category]), rows) for category in CATEGORIES},
        }
    )
    log_odds = (
        -2.4
        + 0.0021 * frame["distance_km"]
        + 0.12 * frame["weight_kg"]
        - 0.35 * (frame["promised_days"] - 3)
        + 3.0 * (frame["warehouse_load"] - 0.62)
        + sum(frame[category].map(world[category]) for category in CATEGORIES)
        + 1.4 * ((frame["service"] == "next-day") & (frame["distance_km"] > 500))
    )
    frame["late"] = (generator.random(rows) < 1 / (1 + np.exp(-log_odds))).astype("int64")
    return frame


def scores(labels, probabilities) -> dict[str, float]:
    """The overall metrics: auc, log_loss and brier (directions the warehouse knows) and calibration_error."""
    import numpy as np
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    bins = np.minimum((probabilities * 10).astype(int), 9)
    calibration_error = sum(
        abs(labels[bins == b].mean() - probabilities[bins == b].mean()) * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    return {
        "auc": round(float(roc_auc_score(labels, probabilities)), 4),
        "log_loss": round(float(log_loss(labels, probabilities, labels=[0, 1])), 4),
        "brier": round(float(brier_score_loss(labels, probabilities)), 4),
        "calibration_error": round(float(calibration_error), 4),
    }


def slice_rows(holdout, probabilities, metrics: list[str]) -> list[dict]:
    """Each slice's value of each slice metric, with its number of parcels (the API's `slices` rows)."""
    labels = holdout["late"].to_numpy()
    masks = {
        f"{category}={name}": holdout[category] == name
        for category in CATEGORIES
        for name in sorted(set(holdout[category]))
    }
    for label, low, high in DISTANCE_BANDS:
        masks[f"distance={label}"] = (holdout["distance_km"] >= low) & (holdout["distance_km"] < high)
    rows = []
    for slice_key, mask in masks.items():
        selected = mask.to_numpy()
        values = scores(labels[selected], probabilities[selected])
        rows += [
            {
                "slice": slice_key,
                "metric": metric,
                "value": values[metric],
                "sample_count": int(selected.sum()),
            }
            for metric in metrics
        ]
    return rows


def _fitted(version: dict, training):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = list(version["features"])
    categorical = [name for name in features if name in CATEGORIES]
    numeric = [name for name in features if name not in CATEGORIES]
    encode = ColumnTransformer(
        [("numbers", StandardScaler(), numeric)]
        + ([("categories", OneHotEncoder(handle_unknown="ignore"), categorical)] if categorical else [])
    )
    estimators = {
        "logistic_regression": lambda params: LogisticRegression(**params),
        "gradient_boosting": lambda params: HistGradientBoostingClassifier(random_state=0, **params),
    }
    pipeline = Pipeline(
        [("encode", encode), ("classify", estimators[version["estimator"]](version["params"]))]
    )
    return pipeline.fit(training[features], training["late"])


def _log_datasets(mlflow, plan: dict, frames: dict) -> dict[str, str]:
    digests = {}
    for context, frame in frames.items():
        dataset = mlflow.data.from_pandas(
            frame, source=plan[context]["source"], targets="late", name=plan[context]["name"]
        )
        mlflow.log_input(dataset, context=context)
        digests[context] = dataset.digest
    return digests


def _profile_metrics(profile: dict) -> dict[str, float]:
    names = (
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "throughput_rps",
        "cost_per_1k_predictions",
    )
    return {name: float(profile[name]) for name in names if name in profile}


def _tags(plan: dict, version: dict, number: int) -> dict[str, str]:
    return {
        "mlflow.source.git.commit": value(version["git_commit"], {"number": number}),
        "warehouse.profile.hardware": version["profile"]["hardware"],
        "warehouse.profile.currency": version["profile"]["currency"],
        **{f"warehouse.direction.{name}": direction for name, direction in plan["directions"].items()},
    }


def _log_model(mlflow, estimator, features, path: str) -> None:
    import sklearn

    mlflow.sklearn.log_model(
        estimator,
        name=path,
        input_example=features.head(3),
        # Stated, not inferred: inferring starts a Python process that imports the model (seconds a run).
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        # The trees' node arrays, which skops asks about before it saves them: trained here, so trusted.
        skops_trusted_types=["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"],
    )
