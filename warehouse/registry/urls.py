from django.urls import path

from warehouse.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.model_list, name="models"),
    path("<slug:name>/", views.model_detail, name="model"),
    path("<slug:name>/versions/<int:number>/", views.version_detail, name="version"),
]
