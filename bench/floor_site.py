"""URLs of the request-floor bench's Django servers: one view that touches nothing (no
database, no session, no user) before the project's own URLs."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from gridmgmt.urls import urlpatterns as project


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"ok":true}', content_type="application/json")


urlpatterns = [path("floor/plain/", plain), *project]
