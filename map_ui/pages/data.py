"""The data administrator's landing page (基础数据): each layer with the records the
user may see, how many of them lie in no grid cell (outside every current cell, or
imported without placement), the layer's owning department (一数一源), where to maintain
and import them, and the way to the review queue of proposals and the quality report
(stewardship)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from layers.access import visible_records
from layers.models import Address, Building, Component, LegalEntity, Person, Placed
from map_ui.pages.roles import may_open, pages_for
from stewardship.services import owner_unit as layer_owner
from stewardship.services import pending_count

LAYERS: list[type[Placed]] = [Person, LegalEntity, Component, Address, Building]


@login_required
def data(request: HttpRequest) -> HttpResponse:
    if not may_open(request.user, "data"):
        raise PermissionDenied
    pages = pages_for(request.user)
    rows = [_layer_row(request, model) for model in LAYERS]
    context = {
        "pages": pages,
        "page_name": "data",
        "page_title": next(p.title for p in pages if p.name == "data"),
        "page_config": {"csrf": get_token(request)},
        "layers": rows,
        "unplaced": sum(row["unplaced"] for row in rows),
        "pending": pending_count(request.user),
    }
    return render(request, "map_ui/data.html", context)


def _layer_row(request: HttpRequest, model: type[Placed]) -> dict[str, Any]:
    counts = visible_records(request.user, model._default_manager.all()).aggregate(
        total=Count("pk"), unplaced=Count("pk", filter=Q(cell__isnull=True))
    )
    opts = model._meta
    try:
        admin_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        admin_url = None
    return {
        "key": opts.model_name,
        "name": opts.verbose_name_plural,
        "total": counts["total"],
        "unplaced": counts["unplaced"],
        "admin_url": admin_url,
        "owner": layer_owner(model),
    }
