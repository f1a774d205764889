from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "warehouse.registry"
    label = "registry"
    verbose_name = "Registry"
