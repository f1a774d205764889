from django.urls import path

from warehouse.promotions import views

app_name = "promotions"

urlpatterns = [
    path("models/<slug:name>/versions/<int:number>/gates/", views.gate_start, name="gate-start"),
    path(
        "models/<slug:name>/versions/<int:number>/gates/<int:run_id>/",
        views.gate_run_detail,
        name="gate-run",
    ),
    path(
        "models/<slug:name>/versions/<int:number>/gates/<int:run_id>/slices/",
        views.gate_run_slices,
        name="gate-slices",
    ),
    path("models/<slug:name>/policy/", views.policy_detail, name="policy"),
    path(
        "models/<slug:name>/policy/revisions/<int:number>.json",
        views.policy_revision_download,
        name="policy-revision-json",
    ),
    path("policy/", views.global_policy_detail, name="global-policy"),
    path(
        "policy/revisions/<int:number>.json",
        views.global_policy_revision_download,
        name="global-policy-revision-json",
    ),
]
