from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "warehouse.incidents"
    label = "incidents"
    verbose_name = "Incidents"
