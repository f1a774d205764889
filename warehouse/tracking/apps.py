from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "warehouse.tracking"
    label = "tracking"
    verbose_name = "Tracking servers"

    def ready(self):
        from warehouse.registry.read_back import read_back_reader_add
        from warehouse.tracking.read_back import tracked_artifacts_read_back

        # The gate re-hashes an imported version's files on its tracking server.
        read_back_reader_add(tracked_artifacts_read_back)
