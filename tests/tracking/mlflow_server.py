"""The tracking server the tests start: scripts/mlflow_server.py, shared with the import bench."""

from scripts.mlflow_server import ARTIFACTS_SCHEME, TrackingServerFailed, TrackingServerProcess

__all__ = ["ARTIFACTS_SCHEME", "TrackingServerFailed", "TrackingServerProcess"]
