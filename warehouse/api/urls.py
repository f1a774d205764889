from django.urls import path

from warehouse.api import views

app_name = "api"

urlpatterns = [
    path("openapi.json", views.openapi, name="openapi"),
    path("models", views.models, name="models"),
    path("models/<slug:name>", views.model_detail, name="model"),
    path("models/<slug:name>/versions", views.versions, name="versions"),
    path("models/<slug:name>/versions/<int:number>", views.version_detail, name="version"),
    path("models/<slug:name>/production", views.production, name="production"),
]
