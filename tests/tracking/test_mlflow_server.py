"""The real MLflow tracking server the import tests read from: it starts, holds what the real client logged,
serves it over plain HTTP (runs/get and the mlflow-artifacts proxy) with the digests the disk holds, and can
be stopped, started again and paused."""

import hashlib
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.tracking.mlflow_runs import (
    EVALUATION,
    EVALUATION_ARTIFACT,
    TRAINING_PARAMS,
    delete_run,
    log_tracked_run,
    overwrite_model_file,
)
from tests.tracking.mlflow_server import ARTIFACTS_SCHEME

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def get(server, path: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(server.url + path, timeout=timeout) as response:
        return response.read()


def get_json(server, endpoint: str, **query) -> dict:
    return json.loads(get(server, f"{endpoint}?{urllib.parse.urlencode(query)}" if query else endpoint))


def proxy_path(artifact_uri: str) -> str:
    """mlflow-artifacts:/1/models/m-.../artifacts -> 1/models/m-.../artifacts"""
    return artifact_uri.removeprefix(ARTIFACTS_SCHEME).lstrip("/")


def proxy_files(server, directory: str) -> dict[str, int]:
    """Every file below `directory`, listed through the proxy one level at a time: {relative path: size}."""
    listing = get_json(server, PROXY, path=directory)
    files = {}
    for entry in listing.get("files", []):
        if entry["is_dir"]:
            below = proxy_files(server, f"{directory}/{entry['path']}")
            files.update({f"{entry['path']}/{name}": size for name, size in below.items()})
        else:
            files[entry["path"]] = int(entry["file_size"])
    return files


def test_it_answers_health(tracking_server):
    assert get(tracking_server, "/health") == b"OK"
    assert tracking_server.start_seconds[0] < 60


def test_a_logged_run_reads_back_over_plain_http(tracking_server, tracked_run):
    run = get_json(tracking_server, "/api/2.0/mlflow/runs/get", run_id=tracked_run.run_id)["run"]

    assert run["info"]["artifact_uri"] == tracked_run.artifact_uri
    assert run["info"]["lifecycle_stage"] == "active"
    metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
    assert metrics == pytest.approx(tracked_run.metrics)
    assert {param["key"]: param["value"] for param in run["data"]["params"]} == TRAINING_PARAMS
    tags = {tag["key"]: tag["value"] for tag in run["data"]["tags"]}
    assert tags["mlflow.source.git.commit"] == tracked_run.git_commit
    assert tags["warehouse.direction.approval_rate"] == "higher"
    assert tags["warehouse.profile.hardware"] == "c6i.large"
    contexts = {
        tag["value"]: dataset_input["dataset"]["digest"]
        for dataset_input in run["inputs"]["dataset_inputs"]
        for tag in dataset_input["tags"]
        if tag["key"] == "mlflow.data.context"
    }
    assert contexts == tracked_run.dataset_digests
    assert run["outputs"]["model_outputs"] == [{"model_id": tracked_run.model_id, "step": 0}]


def test_the_model_files_download_through_the_proxy_with_the_digests_on_disk(tracking_server, tracked_run):
    logged_model = get_json(tracking_server, f"/api/2.0/mlflow/logged-models/{tracked_run.model_id}")["model"]
    assert logged_model["info"]["artifact_uri"] == tracked_run.model_artifact_uri
    assert logged_model["info"]["source_run_id"] == tracked_run.run_id
    directory = proxy_path(tracked_run.model_artifact_uri)

    listed = proxy_files(tracking_server, directory)

    assert listed == {path: size for path, (_, size) in tracked_run.model_files.items()}
    assert {"MLmodel", "model.skops", "requirements.txt"} <= set(listed)
    for path, (sha256, size) in tracked_run.model_files.items():
        body = get(tracking_server, f"{PROXY}/{directory}/{path}")
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha256, size)


def test_the_evaluation_is_an_artifact_of_the_run(tracking_server, tracked_run):
    listing = get_json(
        tracking_server, "/api/2.0/mlflow/artifacts/list", run_id=tracked_run.run_id, path="warehouse"
    )
    assert [entry["path"] for entry in listing["files"]] == [EVALUATION_ARTIFACT]

    body = get(tracking_server, f"{PROXY}/{proxy_path(tracked_run.artifact_uri)}/{EVALUATION_ARTIFACT}")
    assert json.loads(body) == EVALUATION


def test_a_run_with_a_big_model_file_and_no_evaluation(tracking_server):
    run = log_tracked_run(tracking_server, evaluation=None, big_file_bytes=3 * 1024 * 1024 + 5)

    assert run.model_files["weights.bin"][1] == 3 * 1024 * 1024 + 5
    listing = get_json(tracking_server, "/api/2.0/mlflow/artifacts/list", run_id=run.run_id)
    assert listing.get("files", []) == []


def test_a_deleted_run_and_a_changed_file_are_seen(tracking_server):
    run = log_tracked_run(tracking_server)
    sha256, size = overwrite_model_file(tracking_server, run, "model.skops", b"not the model")
    delete_run(tracking_server, run.run_id)

    body = get(tracking_server, f"{PROXY}/{proxy_path(run.model_artifact_uri)}/model.skops")
    assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha256, size) != run.model_files["model.skops"]
    answer = get_json(tracking_server, "/api/2.0/mlflow/runs/get", run_id=run.run_id)
    assert answer["run"]["info"]["lifecycle_stage"] == "deleted"


def test_it_stops_and_starts_again_with_its_runs(interruptible_tracking_server, tracked_run):
    server = interruptible_tracking_server
    port = server.port

    server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    server.start()

    assert server.port == port
    answer = get_json(server, "/api/2.0/mlflow/runs/get", run_id=tracked_run.run_id)
    assert answer["run"]["info"]["run_id"] == tracked_run.run_id


def test_a_paused_server_answers_nothing_until_resumed(interruptible_tracking_server):
    server = interruptible_tracking_server

    server.pause()
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        get(server, "/health", timeout=1)
    assert time.monotonic() - began < 5
    server.resume()

    assert get(server, "/health") == b"OK"
