from django.apps import AppConfig


class MapUiConfig(AppConfig):
    name = "map_ui"
    verbose_name = "一张图页面"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from layers.importing.writer import first_load
        from layers.signals import access_changed, bulk_written
        from map_ui.live.notices import on_access_changed, on_logged_out
        from map_ui.tiles.counts import refresh_after_bulk_write, stand_in_for_marks

        bulk_written.connect(refresh_after_bulk_write, dispatch_uid="map_ui.tiles.counts")
        first_load.connect(stand_in_for_marks, dispatch_uid="map_ui.tiles.marks")
        user_logged_out.connect(on_logged_out, dispatch_uid="map_ui.live.logged_out")
        access_changed.connect(on_access_changed, dispatch_uid="map_ui.live.access_changed")
