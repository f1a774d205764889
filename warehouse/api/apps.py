from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "warehouse.api"
    label = "api"
    verbose_name = "REST API"
