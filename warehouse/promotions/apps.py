from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "warehouse.promotions"
    label = "promotions"
    verbose_name = "Promotions and quality gates"

    def ready(self):
        from warehouse.promotions.requests.lifecycle import promotions_after_stage_change
        from warehouse.registry.stage_listeners import stage_listener_add

        # Every stage change, whoever makes it, supersedes the requests it made stale: in its transaction.
        stage_listener_add(promotions_after_stage_change)
