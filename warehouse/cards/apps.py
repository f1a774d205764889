from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "warehouse.cards"
    label = "cards"
    verbose_name = "Model cards"
