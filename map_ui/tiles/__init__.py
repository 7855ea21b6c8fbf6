"""Vector tiles of the one map (Mapbox Vector Tiles built in PostGIS), scoped by the
access functions of layers and incidents. See docs/tiles.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layers.access import AnyUser


def tile_urls(user: AnyUser) -> dict[str, str]:
    """Tile URL templates with the current version tokens (map_ui.tiles.versions).

    Imported on call: this package also holds the tiles' models, which Django imports
    while it is still loading the apps."""
    from map_ui.tiles.versions import tile_urls as templates

    return templates(user)
