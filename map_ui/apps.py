from django.apps import AppConfig


class MapUiConfig(AppConfig):
    name = "map_ui"
    verbose_name = "一张图页面"

    def ready(self) -> None:
        from layers.signals import bulk_written
        from map_ui.tiles.counts import refresh_after_bulk_write

        bulk_written.connect(refresh_after_bulk_write, dispatch_uid="map_ui.tiles.counts")
