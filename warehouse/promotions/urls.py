from django.urls import path

from warehouse.promotions import policy_views, views

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
    path(
        "models/<slug:name>/versions/<int:number>/promotions/",
        views.promotion_request_create,
        name="request-create",
    ),
    path(
        "models/<slug:name>/versions/<int:number>/archive/",
        views.version_archive_view,
        name="version-archive",
    ),
    path("models/<slug:name>/promotions/<int:request_id>/", views.promotion_request_detail, name="request"),
    path(
        "models/<slug:name>/promotions/<int:request_id>/signoffs/",
        views.signoff_create,
        name="signoff-create",
    ),
    path(
        "models/<slug:name>/promotions/<int:request_id>/cancel/",
        views.promotion_request_cancel_view,
        name="request-cancel",
    ),
    path(
        "models/<slug:name>/promotions/<int:request_id>/recheck/",
        views.promotion_request_recheck_view,
        name="request-recheck",
    ),
    path("reviews/", views.review_queue_view, name="queue"),
    path("models/<slug:name>/policy/", policy_views.policy_detail, name="policy"),
    path(
        "models/<slug:name>/policy/revisions/<int:number>.json",
        policy_views.policy_revision_download,
        name="policy-revision-json",
    ),
    path("policy/", policy_views.global_policy_detail, name="global-policy"),
    path(
        "policy/revisions/<int:number>.json",
        policy_views.global_policy_revision_download,
        name="global-policy-revision-json",
    ),
]
