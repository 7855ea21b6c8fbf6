"""Audit entries from Django's own hooks: sign-in, failed sign-in and sign-out (the
auth signals), and the admin's change log (each LogEntry, however the admin wrote it).
After `migrate`, the grant step of audit/roles.py."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from audit.models import Action, Outcome
from audit.roles import grant_after_migrate
from audit.services import audit_record

ADMIN_ACTIONS = {
    ADDITION: Action.ADMIN_ADD,
    CHANGE: Action.ADMIN_CHANGE,
    DELETION: Action.ADMIN_DELETE,
}


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action=Action.LOGIN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action=Action.LOGOUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already replaced the password (and anything named like a secret) with
    # stars in `credentials`; only the name tried is kept.
    username = str(credentials.get("username", ""))
    audit_record(
        action=Action.LOGIN_FAILED,
        outcome=Outcome.FAILED,
        request=request,
        # Not request.user: whoever may be signed in on this request, the failure is
        # recorded under the name that was tried.
        user=AnonymousUser(),
        username=username,
    )


@receiver(post_save, sender=LogEntry, dispatch_uid="audit_admin_log")
def _admin_logged(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    content_type = instance.content_type
    audit_record(
        action=ADMIN_ACTIONS.get(instance.action_flag, Action.ADMIN_CHANGE),
        user=instance.user,
        object_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
        object_id=instance.object_id or "",
        detail={
            "repr": instance.object_repr,
            "change": instance.get_change_message(),
            "log_entry": instance.pk,
        },
    )


post_migrate.connect(grant_after_migrate, dispatch_uid="audit_grants")
