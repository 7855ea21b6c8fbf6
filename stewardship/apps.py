from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StewardshipConfig(AppConfig):
    name = "stewardship"
    verbose_name = _("数据治理")

    def ready(self) -> None:
        # Imports name their batch through layers.importing's signal (layers cannot
        # import this app: the dependency goes one way).
        from layers.importing.core import rows_written
        from stewardship import recording

        rows_written.connect(recording.record_import, dispatch_uid="stewardship-import")
