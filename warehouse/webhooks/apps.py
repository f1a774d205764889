from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "warehouse.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self):
        from warehouse.audit.services import audit_listener_add
        from warehouse.webhooks.services import webhooks_wake

        # The trail is the outbox: after each commit that recorded events, deliveries may be due.
        audit_listener_add(webhooks_wake)
