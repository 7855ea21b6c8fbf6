from django.urls import path

from notifications.api import InboxView, PreferenceView, ReadAllView, ReadView

urlpatterns = [
    path("", InboxView.as_view(), name="inbox"),
    path("read/", ReadAllView.as_view(), name="inbox-read-all"),
    path("preferences/", PreferenceView.as_view(), name="inbox-preferences"),
    path("<int:pk>/read/", ReadView.as_view(), name="inbox-read"),
]
