from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("安全审计")

    def ready(self) -> None:
        # Django's documented hooks for sign-ins and the admin's change log, and the grant
        # step after migrations (audit/roles.py); checks warn when the roles are not split.
        from audit import checks, receivers  # noqa: F401
