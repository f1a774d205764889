"""The cross-app screens keep the names people and code know them by: `home` at the root, and the model and
version pages as `registry:model` and `registry:version` (warehouse/urls.py puts `model_pages` in the
registry's namespace, beside its models list)."""

from django.urls import path

from warehouse.pages import register_from_run, views

urlpatterns = [
    path("", views.home, name="home"),
    path("register/from-run/", register_from_run.register_from_run, name="register-from-run"),
]

# Under /models/, in the `registry` namespace.
model_pages = [
    path("<slug:name>/", views.model_detail, name="model"),
    path("<slug:name>/versions/<int:number>/", views.version_detail, name="version"),
    path("<slug:name>/versions/<int:number>/import/", views.version_import_live, name="version-import"),
    path(
        "<slug:name>/versions/<int:number>/import/retry/",
        views.version_import_retry,
        name="version-import-retry",
    ),
]
