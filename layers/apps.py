from django.apps import AppConfig


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = "一张图 / One map"
