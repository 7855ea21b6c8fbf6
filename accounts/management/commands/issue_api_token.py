"""Issue an API token for a machine client, acting as an existing user.

    manage.py issue_api_token --user NAME --name NAME [--days N] [--quiet]

The token is printed this once: only its hash is kept. Revoke it in the admin
(账号与令牌 → API令牌). --quiet prints the token alone, for scripts:
TOKEN=$(manage.py issue_api_token --user city --name nightly-export -q)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.tokens import token_issue


class Command(BaseCommand):
    help = "Issue an API token (Authorization: Token …) acting as an existing user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument("--name", required=True, help="Which system or script uses it.")
        parser.add_argument("--days", type=int, help="Expires after this many days.")
        parser.add_argument("-q", "--quiet", action="store_true", help="Print the token only.")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        user = users.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']}.")
        if not user.is_active:
            raise CommandError(f"User {user.get_username()} is deactivated.")
        days = options["days"]
        if days is not None and days <= 0:
            raise CommandError("--days must be a positive number of days.")
        expires_at = timezone.now() + dt.timedelta(days=days) if days else None
        issued = token_issue(user=user, name=options["name"], expires_at=expires_at)
        if options["quiet"]:
            self.stdout.write(issued.secret)
            return
        until = f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
        self.stdout.write(f"token {issued.token.prefix}… for {user.get_username()}{until}")
        self.stdout.write(f"API token (shown this once, only its hash is kept): {issued.secret}")
