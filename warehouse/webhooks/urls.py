from django.urls import path

from warehouse.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.subscription_list, name="subscriptions"),
    path("<int:subscription_id>/", views.subscription_detail, name="subscription"),
    path("<int:subscription_id>/deactivate/", views.subscription_deactivate_view, name="deactivate"),
    path(
        "<int:subscription_id>/deliveries/<uuid:delivery_uuid>/redeliver/",
        views.delivery_redeliver_view,
        name="redeliver",
    ),
]
