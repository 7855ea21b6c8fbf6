"""The role pages. Each view checks the page is the user's, then renders its template with
a folium map fitted to the user's area and a JSON config for the page's script."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import folium
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render

from layers.access import staff_of
from map_ui.pages.maps import area_map, map_config
from map_ui.pages.maps import render as render_map
from map_ui.pages.roles import may_open, pages_for

if TYPE_CHECKING:
    from layers.access import AnyUser
    from layers.models import Area


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The first page the user's post may open."""
    pages = pages_for(request.user)
    if not pages:
        raise PermissionDenied
    return redirect(f"map_ui:{pages[0].name}")


def own_area(user: AnyUser) -> Area | None:
    """The area of the user's post: a street, a district or the city (none without a
    post, as for a superuser)."""
    staff = staff_of(user)
    return staff.unit.area if staff is not None else None


def page(
    request: HttpRequest,
    name: str,
    template: str,
    config: dict[str, Any] | None = None,
    layers: Sequence[folium.Element] = (),
) -> HttpResponse:
    """Render one role page: `config` goes to the page's script as JSON (#page-config);
    `layers` (folium layers drawn server-side) are added to the map."""
    if not may_open(request.user, name):
        raise PermissionDenied
    fmap = area_map(own_area(request.user))
    for layer in layers:
        layer.add_to(fmap)
    parts = render_map(fmap, nonce=str(getattr(request, "csp_nonce", "")))
    pages = pages_for(request.user)
    context = {
        "map": parts,
        "pages": pages,
        "page_name": name,
        "page_title": next(p.title for p in pages if p.name == name),
        "page_config": {
            "map": parts.name,
            "mapkit": map_config(),
            "csrf": get_token(request),
            **(config or {}),
        },
    }
    return render(request, template, context)
