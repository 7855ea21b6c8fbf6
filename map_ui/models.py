# The tiles' and the live socket's own tables are defined beside them; importing them
# here registers them under the map_ui app.
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from map_ui.live.models import LiveTicket
from map_ui.tiles.models import TileCount, TileDirty, TileLabel, TileVersion

__all__ = ["LiveTicket", "SavedFilter", "TileCount", "TileDirty", "TileLabel", "TileVersion"]


class SavedFilter(models.Model):
    """A user's named search of the case list (案件查询): the query string of
    GET /api/cases/, as the search page built it. Only its owner sees it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="saved_filters",
        verbose_name=_("用户"),
    )  # fmt: skip
    name = models.CharField(_("名称"), max_length=60)
    query = models.CharField(_("查询条件"), max_length=1000, blank=True)
    created = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("保存的查询")
        verbose_name_plural = _("保存的查询")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_filter_user_name")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.name}"
