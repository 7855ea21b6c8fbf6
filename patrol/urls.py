from django.urls import path

from patrol import api

urlpatterns = [
    path("duty/", api.DutyView.as_view(), name="patrol-duty"),
    path("positions/", api.PositionsView.as_view(), name="patrol-positions"),
    path("on-duty/", api.OnDutyView.as_view(), name="patrol-on-duty"),
    path("tracks/<int:user_id>/", api.TrackView.as_view(), name="patrol-track"),
    path("coverage/", api.CoverageView.as_view(), name="patrol-coverage"),
    path("figures/", api.FiguresView.as_view(), name="patrol-figures"),
]
