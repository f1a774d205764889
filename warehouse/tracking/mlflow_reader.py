"""Reading an MLflow tracking server over its REST API: a run, a logged model, and the files behind them
through the server's artifact proxy (`mlflow-artifacts`).

Only servers an administrator configured are read (DESIGN invariant 8): a reader is made from a
TrackingServer row, and every path it asks for is built here from ids the server itself gave. Errors come
in two kinds. `TrackingUnreachable` is worth trying again later (no connection, a timeout, a 5xx, a 429).
`TrackingRefused` is not (the run does not exist, the credential is refused): the same call would get the
same answer.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import urllib3
from django.conf import settings

from warehouse.tracking.models import TrackingServer
from warehouse.tracking.selectors import tracking_credential

USER_AGENT = "Warehouse-Import/1"
# Larger than any JSON answer the importer reads (a run with thousands of metrics, a long listing).
MAX_JSON_BYTES = 32 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
ARTIFACTS_SCHEME = "mlflow-artifacts:"


class TrackingUnreachable(Exception):
    """The server could not be asked, or failed to answer: worth trying again later."""


class TrackingRefused(Exception):
    """The server answered, and the answer will not change by asking again."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ListedFile:
    path: str  # relative to the listed directory, with `/` between folders
    size: int | None


def _pool() -> urllib3.PoolManager:
    timeout = settings.IMPORT_TIMEOUT_SECONDS
    # No redirects: a configured server that sends the worker elsewhere is not followed there.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False, maxsize=2, block=False
    )


class MlflowReader:
    def __init__(self, server: TrackingServer):
        self.server = server
        self.base = server.url.rstrip("/")
        self._http = _pool()
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        token = tracking_credential(server)
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    # --- The tracking API -----------------------------------------------------------------------------

    def run_get(self, run_id: str) -> dict:
        return self._json("/api/2.0/mlflow/runs/get", {"run_id": run_id}).get("run") or {}

    def logged_model_get(self, model_id: str) -> dict:
        return self._json(f"/api/2.0/mlflow/logged-models/{quote(model_id, safe='')}", {}).get("model") or {}

    # --- The artifact proxy ---------------------------------------------------------------------------

    def files_list(self, artifact_uri: str) -> list[ListedFile]:
        """Every file under `artifact_uri` (an `mlflow-artifacts:` URI), walking folders, sorted by path."""
        root = proxy_path(artifact_uri)
        found: list[ListedFile] = []
        folders = [""]
        while folders:
            folder = folders.pop()
            path = f"{root}/{folder}".rstrip("/") if folder else root
            listing = self._json("/api/2.0/mlflow-artifacts/artifacts", {"path": path})
            for entry in listing.get("files") or []:
                name = str(entry.get("path", "")).rsplit("/", 1)[-1]
                if not name or name in (".", ".."):
                    continue
                relative = f"{folder}/{name}" if folder else name
                if entry.get("is_dir"):
                    folders.append(relative)
                else:
                    size = entry.get("file_size")
                    found.append(ListedFile(path=relative, size=int(size) if size is not None else None))
        return sorted(found, key=lambda listed: listed.path)

    def file_stream(self, artifact_uri: str, relative: str) -> Iterator[bytes]:
        """The bytes of one file under `artifact_uri`, in chunks, as the proxy serves them."""
        path = f"{proxy_path(artifact_uri)}/{relative}"
        url = f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{quote(path)}"
        response = self._request(url, preload=False)
        try:
            if response.status != 200:
                self._refuse_or_retry(response.status, _excerpt(response.read(4096)), what=relative)
            yield from response.stream(CHUNK_BYTES)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise TrackingUnreachable(f"Reading {relative} was cut off: {_reason(error)}") from error
        finally:
            response.release_conn()

    # --- Plumbing -------------------------------------------------------------------------------------

    def _json(self, path: str, query: dict) -> dict:
        url = f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")
        response = self._request(url, preload=False)
        try:
            body = response.read(MAX_JSON_BYTES + 1)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise TrackingUnreachable(f"The answer was cut off: {_reason(error)}") from error
        finally:
            response.release_conn()
        if response.status != 200:
            self._refuse_or_retry(response.status, body, what=path)
        if len(body) > MAX_JSON_BYTES:
            raise TrackingRefused("The server's answer is too large to read.", code="answer_too_large")
        try:
            document = json.loads(body)
        except ValueError as error:
            raise TrackingUnreachable("The server answered with something that is not JSON.") from error
        if not isinstance(document, dict):
            raise TrackingUnreachable("The server answered with JSON that is not an object.")
        return document

    def _request(self, url: str, *, preload: bool):
        try:
            return self._http.request(
                "GET", url, headers=self._headers, preload_content=preload, redirect=False
            )
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise TrackingUnreachable(
                f"Could not reach the tracking server {self.server.name}: {_reason(error)}"
            ) from error

    def _refuse_or_retry(self, status: int, body: bytes, *, what: str):
        code, message = _mlflow_error(body)
        if status == 429 or status >= 500:
            raise TrackingUnreachable(
                f"The tracking server {self.server.name} answered HTTP {status}"
                + (f" ({message})" if message else "")
            )
        if status in (401, 403):
            raise TrackingRefused(
                f"The tracking server {self.server.name} refused the credential in "
                f"{self.server.credential_env} (HTTP {status}).",
                code="tracking_credential_refused",
            )
        if status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
            raise TrackingRefused(message or f"{what} does not exist.", code="not_found")
        raise TrackingRefused(
            f"The tracking server answered HTTP {status}" + (f": {message}" if message else "."),
            code="tracking_refused",
        )


def proxy_path(artifact_uri: str) -> str:
    """`mlflow-artifacts:/1/abc/artifacts` (or with a host) → `1/abc/artifacts`, the proxy's path."""
    if not artifact_uri.startswith(ARTIFACTS_SCHEME):
        raise TrackingRefused(
            f"The files are at {artifact_uri}, which the tracking server does not serve through its "
            "artifact proxy (mlflow-artifacts); Warehouse hashes files only through that proxy.",
            code="artifacts_not_proxied",
        )
    rest = artifact_uri[len(ARTIFACTS_SCHEME) :]
    if rest.startswith("//"):  # mlflow-artifacts://host:port/path
        rest = rest[2:].partition("/")[2]
    path = rest.strip("/")
    if not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise TrackingRefused(
            f"{artifact_uri} is not a path Warehouse can read.", code="artifacts_not_proxied"
        )
    return path


def _mlflow_error(body: bytes) -> tuple[str, str]:
    try:
        document = json.loads(body)
    except ValueError:
        return "", _excerpt(body)
    if not isinstance(document, dict):
        return "", ""
    return str(document.get("error_code") or ""), str(document.get("message") or "")[:500]


def _excerpt(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace").strip()


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    return f"{type(reason).__name__}: {reason}"[:300]
