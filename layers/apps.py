from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = _("一张图")

    def ready(self) -> None:
        from layers.placement import connect_piece_signals

        connect_piece_signals()
