from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("案件受理")

    def ready(self) -> None:
        from incidents.geocoding import connect_district_words

        connect_district_words()
