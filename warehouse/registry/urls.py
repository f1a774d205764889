from django.urls import path

from warehouse.registry import views

app_name = "registry"

# The model and version pages are named in this namespace too (registry:model, registry:version): they are
# the pages layer's (warehouse/pages/urls.py), and warehouse/urls.py joins the two lists.
urlpatterns = [
    path("", views.model_list, name="models"),
]
