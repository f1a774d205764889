"""The MLflow model-registry subset, under /api/2.0/mlflow/ (DESIGN: API). Paths exactly as the client
sends them, without a trailing slash: anything else under the prefix is a JSON 404, never a redirect."""

from django.urls import path, re_path

from warehouse.api.mlflow import model_views, version_views
from warehouse.api.mlflow.http import mlflow_error_response


def _unknown(request, rest: str = ""):
    return mlflow_error_response(
        404,
        "ENDPOINT_NOT_FOUND",
        f"No MLflow endpoint {request.path!r} here: Warehouse answers the model registry subset listed "
        "in its README (Use it from MLflow).",
    )


_unknown.csrf_exempt = True

REGISTERED_MODELS = {
    "create": model_views.create,
    "get": model_views.get,
    "search": model_views.search,
    "update": model_views.update,
    "delete": model_views.delete,
    "rename": model_views.rename,
    "set-tag": model_views.set_tag,
    "delete-tag": model_views.delete_tag,
    "get-latest-versions": model_views.get_latest_versions,
    "alias": model_views.alias,
}
MODEL_VERSIONS = {
    "create": version_views.create,
    "get": version_views.get,
    "search": version_views.search,
    "update": version_views.update,
    "delete": version_views.delete,
    "transition-stage": version_views.transition_stage,
    "get-download-uri": version_views.get_download_uri,
    "set-tag": version_views.set_tag,
    "delete-tag": version_views.delete_tag,
}

urlpatterns = [
    *(path(f"registered-models/{name}", view) for name, view in REGISTERED_MODELS.items()),
    *(path(f"model-versions/{name}", view) for name, view in MODEL_VERSIONS.items()),
    re_path(r"^(?P<rest>[\s\S]*)$", _unknown),
]
