from django.urls import path

from exchange.api import DeliveryListView, ReplayView, ResultExportView, TicketImportView

urlpatterns = [
    path("12345/tickets/", TicketImportView.as_view(), name="exchange-12345-import"),
    path("12345/results/", ResultExportView.as_view(), name="exchange-12345-results"),
    path("webhooks/deliveries/", DeliveryListView.as_view(), name="webhook-deliveries"),
    path("webhooks/deliveries/<int:pk>/replay/", ReplayView.as_view(), name="webhook-replay"),
]
