from django.urls import path, re_path

from warehouse.api import views

app_name = "api"

# `str`, not `slug`, for model names: a name the registry refuses reaches the view and gets a JSON answer
# (400 on registration, 404 on reads) instead of the site's HTML 404.
urlpatterns = [
    path("openapi.json", views.openapi, name="openapi"),
    path("models", views.models, name="models"),
    path("models/<str:name>", views.model_detail, name="model"),
    path("models/<str:name>/versions", views.versions, name="versions"),
    path("models/<str:name>/versions/<int:number>", views.version_detail, name="version"),
    path("models/<str:name>/production", views.production, name="production"),
    # Last: every other path under /api/v1/.
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
