from django.urls import path

from warehouse.cards import compare_views, views

app_name = "cards"

CARD = "models/<slug:name>/versions/<int:number>/card/"

urlpatterns = [
    path("register/", views.version_register, name="register"),
    path(CARD, views.card_detail, name="card"),
    path(f"{CARD}edit/", views.card_edit, name="card-edit"),
    path(f"{CARD}preview/", views.card_preview, name="card-preview"),
    path(f"{CARD}prefill/", views.card_prefill_view, name="card-prefill"),
    path(f"{CARD}import/", views.card_import_view, name="card-import"),
    path(f"{CARD}history/", views.card_history, name="card-history"),
    path(f"{CARD}diff/", views.card_diff, name="card-diff"),
    # The comparison of two versions used to live under one version's card; that address redirects.
    path(f"{CARD}compare/", compare_views.card_compare, name="card-compare"),
    path("models/<slug:name>/compare/", compare_views.version_compare, name="compare"),
]
