from django.urls import URLPattern, path, register_converter

from map_ui.tiles import views
from map_ui.tiles.versions import LAYERS


class LayerConverter:
    """One of the tile layers; any other name is not a URL here (404)."""

    regex = "|".join(LAYERS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(LayerConverter, "tilelayer")

app_name = "map_tiles"

urlpatterns: list[URLPattern] = [
    path("<tilelayer:layer>/<int:z>/<int:x>/<int:y>.pbf", views.tile, name="tile"),
    path("urls.json", views.urls, name="urls"),
    path("labels.json", views.labels, name="labels"),
    path("stacks.json", views.stacks, name="stacks"),
    path("info/<tilelayer:layer>/<int:pk>.json", views.info, name="info"),
]
