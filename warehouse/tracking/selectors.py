"""Reads of tracking servers, and the one read of a server's credential."""

import os

from warehouse.tracking.models import TrackingServer


def tracking_server_for(*, name: str) -> TrackingServer | None:
    """The active tracking server named `name`, or None: the only servers Warehouse may call."""
    return TrackingServer.objects.filter(name=name, active=True).first()


def tracking_credential(server: TrackingServer) -> str | None:
    """The server's token, read from this process's environment when it is used (None when unset). Never
    log it, store it, or put it in an error."""
    return os.environ.get(server.credential_env) or None


def tracking_credential_is_set(server: TrackingServer) -> bool:
    return tracking_credential(server) is not None
