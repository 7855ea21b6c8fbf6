from django.urls import path

from notifications.api import InboxView, ReadView

urlpatterns = [
    path("", InboxView.as_view(), name="inbox"),
    path("read/", ReadView.as_view(), name="inbox-read-all"),
    path("<int:pk>/read/", ReadView.as_view(), name="inbox-read"),
]
