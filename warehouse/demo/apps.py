from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "warehouse.demo"
    label = "demo"
    verbose_name = "Demo"
