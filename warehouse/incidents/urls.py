from django.urls import path

from warehouse.incidents import views

app_name = "incidents"

urlpatterns = [
    # The stable link an alert template carries: the model's production version now.
    path("go/<slug:name>", views.production_jump, name="go"),
    path("go/<slug:name>/rollback", views.rollback, name="rollback"),
    path("incidents/", views.incidents, name="list"),
    path("incidents/<int:incident_id>", views.incident_detail, name="incident"),
]
