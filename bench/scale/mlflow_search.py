"""MLflow's own registry search, measured in the scale bench's run: the rate the API models list must beat
tenfold, taken on the same machine in the same minutes rather than remembered from another day.

A real `mlflow server` (scripts/mlflow_server.py, the one the tests start) on its SQLite store holds
MLFLOW_MODELS registered models of VERSIONS_EACH versions, as many a model as the scale bench's registry
has, made through its REST API as the MLflow client makes them; wrk then asks it for a page of MLFLOW_PAGE
of them (`registered-models/search`, each with its latest versions) at the same connections as the API
list, which is asked for pages of the same size. Making them takes about a minute.

The two are served as each is deployed by default, not alike: MLflow's own server (one worker) on its
SQLite store, ours through nginx and gunicorn on PostgreSQL, both on this machine at once with the bench.
"""

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.load import wrk
from scripts.mlflow_server import TrackingServerProcess

MLFLOW_MODELS = 500
MLFLOW_PAGE = 100
VERSIONS_EACH = 10
SEARCH_PATH = f"/api/2.0/mlflow/registered-models/search?max_results={MLFLOW_PAGE}"


@dataclass(frozen=True)
class MlflowSearch:
    per_second: float
    bad: int
    models: int


def posted(base: str, path: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{base}/api/2.0/mlflow/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def model_with_versions_create(base: str, number: int) -> None:
    name = f"scale-model-{number:04d}"
    posted(
        base, "registered-models/create", {"name": name, "description": f"{name}, made by the scale bench"}
    )
    for version in range(1, VERSIONS_EACH + 1):
        source = f"s3://scale-bench/{name}/{version}"
        posted(base, "model-versions/create", {"name": name, "source": source, "description": "scale bench"})


def mlflow_search_rate(*, seconds: int, connections: int) -> MlflowSearch:
    """Requests a second of MLflow's search for a page of MLFLOW_PAGE models among MLFLOW_MODELS."""
    with TrackingServerProcess() as server:
        # A few at once, as several pipelines register: the store writes one at a time all the same.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(
                pool.map(lambda number: model_with_versions_create(server.url, number), range(MLFLOW_MODELS))
            )
        with urllib.request.urlopen(server.url + SEARCH_PATH, timeout=30) as answer:
            shown = len(json.loads(answer.read())["registered_models"])
        if shown != MLFLOW_PAGE:
            raise RuntimeError(f"MLflow's search answered {shown} models, not {MLFLOW_PAGE}")
        wrk(server.url, [SEARCH_PATH], seconds=2, connections=connections)  # warm, as ours is by the pages
        load = wrk(server.url, [SEARCH_PATH], seconds=seconds, connections=connections)
    return MlflowSearch(per_second=load.per_second, bad=load.bad, models=MLFLOW_MODELS)
