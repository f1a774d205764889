from django.contrib import admin
from django.urls import include, path

from warehouse import health
from warehouse.api import views as api_views
from warehouse.api.mlflow import version_views as mlflow_version_views
from warehouse.pages import urls as pages_urls
from warehouse.registry import urls as registry_urls
from warehouse.registry import views as registry_views

admin.site.site_header = "Warehouse administration"
admin.site.site_title = "Warehouse admin"

# Django tries patterns in order: the machines' paths come first, so the serving systems' hot path
# (/api/v1/models/<name>/production) is not matched against every page's pattern before its own.
urlpatterns = [
    # The hot path, first and outside the API's include: one pattern to match, not two levels. Named in the
    # API's namespace all the same (warehouse/api/urls.py lists it too, for the contract tests).
    path("api/v1/models/<str:name>/production", api_views.production),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/v1/", include("warehouse.api.urls")),
    # The MLflow model-registry subset (warehouse/api/mlflow/), for the unmodified MLflow client.
    path("api/2.0/mlflow/", include("warehouse.api.mlflow.urls")),
    path("api/3.0/mlflow/server-info", mlflow_version_views.server_info),
    path("hooks/", include("warehouse.incidents.urls_hooks")),
    path("", include(pages_urls.urlpatterns)),
    path("accounts/", include("warehouse.accounts.urls")),
    # The models list (the registry's) and the model and version pages (the pages layer's), one namespace.
    path("models/", include((registry_urls.urlpatterns + pages_urls.model_pages, registry_urls.app_name))),
    # /register/ and the card pages: /models/<name>/versions/<n>/card/…
    path("", include("warehouse.cards.urls")),
    # Gate runs and policies: /models/<name>/versions/<n>/gates/…, /models/<name>/policy/, /policy/.
    path("", include("warehouse.promotions.urls")),
    path("audit/", registry_views.audit_trail, name="audit-trail"),
    path("audit/export.<str:export_format>", registry_views.audit_trail_export, name="audit-trail-export"),
    # Incidents: /go/<model> (the alert link), /incidents/…; alerting systems post to /hooks/….
    path("", include("warehouse.incidents.urls")),
    path("webhooks/", include("warehouse.webhooks.urls")),
    path("admin/", admin.site.urls),
]
