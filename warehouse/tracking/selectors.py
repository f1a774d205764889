"""Reads of tracking servers, and the one read of a server's credential."""

import os

from django.http import Http404

from warehouse.registry.models import ModelVersion
from warehouse.tracking.models import RunImport, TrackingServer


def tracking_server_for(*, name: str) -> TrackingServer | None:
    """The active tracking server named `name`, or None: the only servers Warehouse may call."""
    return TrackingServer.objects.filter(name=name, active=True).first()


def tracking_credential(server: TrackingServer) -> str | None:
    """The server's token, read from this process's environment when it is used (None when unset). Never
    log it, store it, or put it in an error."""
    return os.environ.get(server.credential_env) or None


def tracking_credential_is_set(server: TrackingServer) -> bool:
    return tracking_credential(server) is not None


def run_import_for_version(*, version: ModelVersion) -> RunImport | None:
    """The import of `version`'s evidence, or None for a version registered with it (one query)."""
    run_import = RunImport.objects.select_related("server").filter(version=version).first()
    if run_import is not None:
        run_import.version = version
    return run_import


def run_import_of(*, version: ModelVersion) -> RunImport:
    """The import of `version`'s evidence (the caller has checked the reader may see the version), or 404
    for a version not registered from a tracked run."""
    run_import = run_import_for_version(version=version)
    if run_import is None:
        raise Http404(f"{version.identifier} was not registered from a tracked run.")
    return run_import
