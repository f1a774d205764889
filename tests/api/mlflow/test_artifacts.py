"""`mlflow.artifacts.download_artifacts("models:/<name>@production")` with the unmodified client: Warehouse
answers which version is in Production and the URI its weights were registered at; the client then fetches the
files from that URI's server itself. Warehouse opens nothing (DESIGN invariant 8).

The artifact server speaks HTTPS with a self-signed certificate that the client is told to trust through
`MLFLOW_TRACKING_SERVER_CERT_PATH` (which the client's HTTP artifact repository honours like its tracking
calls), so the registered URI is an `https://` one that Warehouse's own scheme allowlist accepts unchanged."""

from pathlib import Path

import pytest

from tests.api.mlflow.artifact_server import ARTIFACTS_ROUTE, ArtifactServer, self_signed_certificate
from tests.factories import version_move, version_register_for_tests
from warehouse.registry.models import Stage

mlflow = pytest.importorskip("mlflow")

PRODUCTION_FILES = {
    "MLmodel": b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n",
    "model.pkl": bytes(range(256)) * 64,
    "env/requirements.txt": b"scikit-learn==1.5.2\n",
}
DRAFT_FILES = {
    "MLmodel": b"flavors:\n  python_function:\n    loader_module: mlflow.xgboost\n",
    "model.xgb": b"a newer candidate, not approved for users",
}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


@pytest.fixture
def artifact_server(tmp_path, monkeypatch):
    """A tracking server's artifact service holding fraud-scorer v2 (to be in Production) and v3 (a Draft)."""
    root = tmp_path / "served"
    write_tree(root / "fraud-scorer" / "2" / "model", PRODUCTION_FILES)
    write_tree(root / "fraud-scorer" / "3" / "model", DRAFT_FILES)
    certificate, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificate))
    server = ArtifactServer(root=root, certificate=certificate, key=key).start()
    yield server
    server.stop()


def registered_at(weights_uri: str) -> dict:
    """A registration body whose weights are the MLflow model directory at `weights_uri`."""
    return {
        "artifacts": [
            # A directory has no single digest: the version says so rather than inventing one.
            {"name": "model", "kind": "weights", "uri": weights_uri, "sha256": "", "size_bytes": 0},
        ]
    }


def test_the_client_downloads_the_production_versions_files_from_their_server(
    mlflow_as, model, contributor, superuser, artifact_server, tmp_path
):
    production_uri = artifact_server.artifacts_uri("fraud-scorer/2/model")
    v2 = version_register_for_tests(actor=contributor, model=model, **registered_at(production_uri))
    version_move(v2, Stage.STAGING, Stage.PRODUCTION, actor=superuser)
    draft_uri = artifact_server.artifacts_uri("fraud-scorer/3/model")
    v3 = version_register_for_tests(actor=contributor, model=model, **registered_at(draft_uri))
    assert v3.stage == Stage.DRAFT and v3.number > v2.number
    client = mlflow_as(contributor)

    # Warehouse's answer is the URI as registered, and giving it touched nothing on the artifact server.
    assert client.get_model_version_by_alias("fraud-scorer", "production").version == str(v2.number)
    assert client.get_model_version_download_uri("fraud-scorer", str(v2.number)) == production_uri
    assert artifact_server.log == []

    local = mlflow.artifacts.download_artifacts(
        "models:/fraud-scorer@production", dst_path=str(tmp_path / "out")
    )

    downloaded = read_tree(Path(local))
    # MLflow clients before 3.18 also write the version's name and number beside what they downloaded; that
    # file never came from the server (the request log below shows what did).
    downloaded.pop("registered_model_meta", None)
    assert downloaded == PRODUCTION_FILES
    # Every request the artifact server saw came from the MLflow client, for the production version's files
    # (plus the client's optional capability probe); nothing asked for the newer draft's.
    asked = {asked_for(request) for request in artifact_server.log}
    production_files = {f"{ARTIFACTS_ROUTE}/fraud-scorer/2/model/{name}" for name in PRODUCTION_FILES}
    listings = {
        f"{ARTIFACTS_ROUTE}?path=fraud-scorer/2/model",
        f"{ARTIFACTS_ROUTE}?path=fraud-scorer/2/model/env",
    }
    assert (
        production_files | listings <= asked <= production_files | listings | {"/api/3.0/mlflow/server-info"}
    )
    assert all(
        request.headers["User-Agent"].startswith("mlflow-python-client/") for request in artifact_server.log
    )
    # The client sends its credentials to the artifact URI's server too (the README says so): the token it
    # holds for Warehouse arrives there, so a loading process should hold a read-only account's token.
    assert all(request.headers["Authorization"].startswith("Bearer wh_") for request in artifact_server.log)


def asked_for(request) -> str:
    return "".join([request.path, *(f"?path={path}" for path in request.query.get("path", []))])
