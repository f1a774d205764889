from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "warehouse.tracking"
    label = "tracking"
    verbose_name = "Tracking servers"
