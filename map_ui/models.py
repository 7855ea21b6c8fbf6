# The tiles' own tables are defined beside the tiles; importing them here registers them
# under the map_ui app.
from map_ui.tiles.models import TileCount, TileDirty, TileLabel, TileVersion

__all__ = ["TileCount", "TileDirty", "TileLabel", "TileVersion"]
