"""A stand-in for an MLflow tracking server's artifact service: a real HTTPS server on 127.0.0.1, in a thread,
serving a directory through the two routes the client's HTTP artifact repository reads
(mlflow/store/artifact/http_artifact_repo.py):

- listing: `GET /api/2.0/mlflow-artifacts/artifacts?path=<p>` answers `{"files": [{"path", "is_dir",
  "file_size"}]}`, each `path` a name inside `<p>` (as `mlflow server` answers: the client joins it to `<p>`);
- file: `GET /api/2.0/mlflow-artifacts/artifacts/<p>` answers the file's bytes.

Anything else is a 404 (the client asks `/api/3.0/mlflow/server-info` for optional capabilities and carries on
without them). Every request is logged with its headers, so a test can say who asked for what."""

import datetime
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written to `directory`; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "artifact-server.pem", directory / "artifact-server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class ArtifactServer:
    root: Path
    certificate: Path
    key: Path
    log: list[LoggedRequest] = field(default_factory=list)

    def start(self) -> "ArtifactServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        # Polling for shutdown every 20 ms, not every 0.5 s: the test waits for it when it stops the server.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"https://{host}:{port}"

    def artifacts_uri(self, path: str) -> str:
        """The URI a tracking server would give the artifacts at `path` (relative to the root)."""
        return f"{self.url}{ARTIFACTS_ROUTE}/{path.strip('/')}"

    def resolve(self, relative: str) -> Path | None:
        """`relative` inside the root, or None when it names nothing there or steps outside."""
        target = (self.root / relative.strip("/")).resolve()
        if not target.is_relative_to(self.root.resolve()) or not target.exists():
            return None
        return target


def _handler_for(server: ArtifactServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            server.log.append(LoggedRequest("GET", path, query, dict(self.headers.items())))
            if path == ARTIFACTS_ROUTE:
                self._listing(query.get("path", [""])[0])
            elif path.startswith(f"{ARTIFACTS_ROUTE}/"):
                self._file(path.removeprefix(f"{ARTIFACTS_ROUTE}/"))
            else:
                self._answer(404, b'{"error_code": "ENDPOINT_NOT_FOUND"}')

        def _listing(self, relative: str) -> None:
            target = server.resolve(relative)
            if target is None:
                self._answer(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')
                return
            # A file lists as nothing, as `mlflow server` lists it (its local repository does).
            entries = sorted(target.iterdir()) if target.is_dir() else []
            files = [
                {"path": entry.name, "is_dir": True}
                if entry.is_dir()
                else {"path": entry.name, "is_dir": False, "file_size": entry.stat().st_size}
                for entry in entries
            ]
            self._answer(200, json.dumps({"files": files}).encode())

        def _file(self, relative: str) -> None:
            target = server.resolve(relative)
            if target is None or not target.is_file():
                self._answer(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')
                return
            self._answer(200, target.read_bytes(), content_type="application/octet-stream")

        def _answer(self, status: int, body: bytes, *, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's signature)
            pass  # the test reads `server.log`; nothing on stderr

    return Handler
