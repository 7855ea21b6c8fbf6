"""Signals of the one map's layers, for apps that keep data derived from them."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction
from django.dispatch import Signal

# Sent by the bulk commands (import_layer, load_demo_city, redraw_cells) once their
# writes have committed. A receiver does its catching up there, in the command, rather
# than leaving it to the first request after the import; it may return one line for
# the command to print.
bulk_written = Signal()


def announce_bulk_write(command: BaseCommand) -> None:
    """Send bulk_written from `command` and print what the receivers answer."""
    for _receiver, said in bulk_written.send(sender=type(command)):
        if said:
            command.stdout.write(str(said))


# Sent after commit when people's access changed: a user deactivated or reactivated, a
# post created, changed (role, unit, cells) or removed. `user_ids`: whose. Receivers
# end what the old access allowed (map_ui.live closes the user's live sockets).
access_changed = Signal()


def announce_access_change(user_ids: list[int]) -> None:
    """Send access_changed for `user_ids` once the current transaction commits."""
    if user_ids:
        transaction.on_commit(lambda: access_changed.send(sender=None, user_ids=user_ids))


# Sent inside a redraw's transaction (layers.redraw.follow_successors) with `pairs`, the
# (retired, successor) areas, once the successors took over the layers' own rows. Apps
# that keep rows scoped to an area move them to the successor (dispatch: the routing
# rules); a receiver returns {what: how many} for the redraw's report.
areas_succeeded = Signal()
