from django.urls import path, re_path

from warehouse.api import views

app_name = "api"

# `str`, not `slug`, for model names: a name the registry refuses reaches the view and gets a JSON answer
# (400 on registration, 404 on reads) instead of the site's HTML 404.
urlpatterns = [
    # First: the serving systems' hot path.
    path("models/<str:name>/production", views.production, name="production"),
    path("openapi.json", views.openapi, name="openapi"),
    path("models", views.models, name="models"),
    path("models/<str:name>", views.model_detail, name="model"),
    path("models/<str:name>/versions", views.versions, name="versions"),
    path("models/<str:name>/versions/<int:number>", views.version_detail, name="version"),
    path("models/<str:name>/rollback", views.rollback, name="rollback"),
    path("models/<str:name>/policy", views.policy, name="policy"),
    path("models/<str:name>/policy/revisions/<int:number>", views.policy_revision, name="policy-revision"),
    path("models/<str:name>/versions/<int:number>/gate-runs", views.gate_runs, name="gate-runs"),
    path(
        "models/<str:name>/versions/<int:number>/gate-runs/<int:run_id>",
        views.gate_run_detail,
        name="gate-run",
    ),
    path("models/<str:name>/versions/<int:number>/promotions", views.promotions, name="promotions"),
    path("models/<str:name>/versions/<int:number>/archive", views.archive, name="version-archive"),
    path("models/<str:name>/versions/<int:number>/card", views.card, name="card"),
    path(
        "models/<str:name>/versions/<int:number>/card/export/huggingface",
        views.card_export_hf,
        name="card-export-huggingface",
    ),
    path(
        "models/<str:name>/versions/<int:number>/card/export/toolkit",
        views.card_export_mct,
        name="card-export-toolkit",
    ),
    path("models/<str:name>/promotions/<int:promotion_id>", views.promotion_detail, name="promotion"),
    path(
        "models/<str:name>/promotions/<int:promotion_id>/signoffs",
        views.promotion_signoff,
        name="promotion-signoffs",
    ),
    path(
        "models/<str:name>/promotions/<int:promotion_id>/cancel",
        views.promotion_cancel,
        name="promotion-cancel",
    ),
    path("policy", views.global_policy, name="global-policy"),
    path("policy/revisions/<int:number>", views.global_policy_revision, name="global-policy-revision"),
    # Last: every other path under /api/v1/.
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
