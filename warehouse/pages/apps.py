from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "warehouse.pages"
    label = "pages"
    verbose_name = "Pages"
