from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "warehouse.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self):
        from warehouse.api.schemas.registration import registration_schema_read
        from warehouse.cards.registration import registration_schema_lend

        # The register page reads a pasted registration with this API's schema: the same answers as here.
        registration_schema_lend(registration_schema_read)
