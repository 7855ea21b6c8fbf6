"""Intake pages: the 12345 hotline's ticket form and the inspector's phone page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from map_ui.pages.views import page


@login_required
def hotline(request: HttpRequest) -> HttpResponse:
    return page(request, "hotline", "map_ui/hotline.html")


@login_required
def inspector(request: HttpRequest) -> HttpResponse:
    return page(request, "inspector", "map_ui/inspector.html")
