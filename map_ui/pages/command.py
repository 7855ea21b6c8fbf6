"""Pages of the command centres and street offices: the command map, the street
dispatch board and the evaluation tables."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from map_ui.pages.views import page


@login_required
def command(request: HttpRequest) -> HttpResponse:
    return page(request, "command", "map_ui/command.html")


@login_required
def street(request: HttpRequest) -> HttpResponse:
    return page(request, "street", "map_ui/street.html")


@login_required
def evaluation(request: HttpRequest) -> HttpResponse:
    return page(request, "evaluation", "map_ui/evaluation.html")
