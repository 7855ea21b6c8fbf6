"""Mounted at the site's root by gridmgmt.urls: the API under /api/stewardship/, the data
administrator's pages beside /map/data/."""

from django.urls import URLPattern, path

from stewardship import api, pages

urlpatterns: list[URLPattern] = [
    path("api/stewardship/proposals/", api.ProposalsView.as_view(), name="stewardship-proposals"),
    path(
        "api/stewardship/proposals/<int:pk>/",
        api.ProposalView.as_view(),
        name="stewardship-proposal",
    ),
    path(
        "api/stewardship/proposals/<int:pk>/photo/",
        api.PhotoView.as_view(),
        name="stewardship-proposal-photo",
    ),
    path(
        "api/stewardship/proposals/<int:pk>/accept/",
        api.AcceptView.as_view(),
        name="stewardship-accept",
    ),
    path(
        "api/stewardship/proposals/<int:pk>/reject/",
        api.RejectView.as_view(),
        name="stewardship-reject",
    ),
    path(
        "api/stewardship/records/<str:layer>/<int:pk>/",
        api.RecordView.as_view(),
        name="stewardship-record",
    ),
    path(
        "api/stewardship/records/<str:layer>/<int:pk>/verify/",
        api.VerifyView.as_view(),
        name="stewardship-verify",
    ),
    path("api/stewardship/quality/", api.QualityView.as_view(), name="stewardship-quality"),
    path("map/data/review/", pages.review, name="stewardship-review-page"),
    path("map/data/quality/", pages.quality_page, name="stewardship-quality-page"),
]
