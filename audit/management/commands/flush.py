"""`manage.py flush` empties the tables as the owner role when there is one: TRUNCATE of
the case history and the audit trail is refused to the application's role. The test
runner empties the database with it after every transactional test."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.core.management.sql import emit_post_migrate_signal, sql_flush
from django.db import DEFAULT_DB_ALIAS, connections

from audit.roles import OWNER_ALIAS, separated


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        database = options["database"]
        if database != DEFAULT_DB_ALIAS or not separated():
            return super().handle(**options)
        connection = connections[database]
        name = connection.settings_dict["NAME"]
        if options["interactive"]:
            answer = input(f'Type "yes" to remove ALL data from the database "{name}": ')
            if answer != "yes":
                self.stdout.write("Flush cancelled.")
                return None
        statements = sql_flush(
            self.style,
            connection,
            reset_sequences=options["reset_sequences"],
            allow_cascade=options["allow_cascade"],
        )
        # A plain connection of the owner's, not the `owner` alias: inside a test that
        # did not ask for that alias, the test runner forbids connecting through it.
        owner = connections.create_connection(OWNER_ALIAS)
        raw = owner.get_new_connection(owner.get_connection_params())
        try:
            with raw.transaction(), raw.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        except Exception as error:
            raise CommandError(f"Database {name} couldn't be flushed: {error}") from error
        finally:
            raw.close()
        if not options["inhibit_post_migrate"]:
            emit_post_migrate_signal(options["verbosity"], options["interactive"], database)
        return None
