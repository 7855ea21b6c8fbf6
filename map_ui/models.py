# The tiles' and the live socket's own tables are defined beside them; importing them
# here registers them under the map_ui app.
from map_ui.live.models import LiveTicket
from map_ui.tiles.models import TileCount, TileDirty, TileLabel, TileVersion

__all__ = ["LiveTicket", "TileCount", "TileDirty", "TileLabel", "TileVersion"]
