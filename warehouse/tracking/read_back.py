"""Re-reading an imported version's files from its tracking server, for the gate's artifacts check: every
file is streamed and hashed again, so a file changed on the server since the import fails the gate."""

import hashlib

from warehouse.registry.models import ModelVersion
from warehouse.registry.read_back import ReadBack
from warehouse.tracking.mlflow_reader import (
    ARTIFACTS_SCHEME,
    MlflowReader,
    TrackingRefused,
    TrackingUnreachable,
)
from warehouse.tracking.models import ImportState, RunImport


def tracked_artifacts_read_back(version: ModelVersion, uris: list[str]) -> ReadBack:
    found = ReadBack()
    tracked = [uri for uri in uris if uri.startswith(ARTIFACTS_SCHEME)]
    if not tracked:
        return found
    run_import = (
        RunImport.objects.select_related("server").filter(version=version, state=ImportState.IMPORTED).first()
    )
    if run_import is None:
        return found  # not files the warehouse imported: it knows no server to read them from
    server = run_import.server
    if not server.active:
        found.unreachable.update(
            dict.fromkeys(tracked, f"the tracking server {server.name} was deactivated by an administrator")
        )
        return found
    reader = MlflowReader(server)
    for uri in tracked:
        folder, _, name = uri.rpartition("/")
        try:
            digest = hashlib.sha256()
            for chunk in reader.file_stream(folder, name):
                digest.update(chunk)
            found.digests[uri] = digest.hexdigest()
        except TrackingRefused as refusal:
            if refusal.code != "not_found":
                found.unreachable[uri] = str(refusal)
            else:
                found.digests[uri] = None
        except TrackingUnreachable as error:
            found.unreachable[uri] = str(error)
    return found
