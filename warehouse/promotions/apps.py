from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "warehouse.promotions"
    label = "promotions"
    verbose_name = "Promotions and quality gates"
