from django.urls import URLPattern, path

from analysis.views import analysis
from map_ui.pages import command, data, handler, intake, preferences, search, views

app_name = "map_ui"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("command/", command.command, name="command"),
    path("street/", command.street, name="street"),
    path("handle/", handler.handler, name="handler"),
    path("data/", data.data, name="data"),
    path("evaluation/", command.evaluation, name="evaluation"),
    path("analysis/", analysis, name="analysis"),
    path("cases/", search.search, name="search"),
    path("hotline/", intake.hotline, name="hotline"),
    path("inspector/", intake.inspector, name="inspector"),
    path("inspector/sw.js", intake.inspector_worker, name="inspector-worker"),
    path("preferences/", preferences.preferences, name="preferences"),
]
