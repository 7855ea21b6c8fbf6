from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("账号与令牌")

    def ready(self) -> None:
        from accounts import schema  # noqa: F401 - registers the token's OpenAPI scheme
