"""Signing in: Django's ModelBackend, loading the user together with their post.

Nearly every request reads the post (layers.access.staff_of: the role, the unit, the
unit's area) right after the user; loading both in one query saves a round trip on
each, which matters most where requests come in bursts (a map's tiles). The area's
geometry is left out: access rules work with codes and ids, and the pages that draw an
outline load it when they do.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from layers.access import keep_post


class UserAndPostBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        users = get_user_model()._default_manager.select_related("staff__unit__area")
        user = users.defer("staff__unit__area__geom").filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        keep_post(user, getattr(user, "staff", None))
        return user
