from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "market.core"
    label = "core"
    verbose_name = "Operations"
