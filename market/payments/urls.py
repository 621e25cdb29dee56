"""The payments app's pages. ``market/urls.py`` includes ``urlpatterns`` at the root and
``dashboard_urls`` under ``admin/dashboard/`` (before the admin's own URLs)."""

from django.contrib import admin
from django.urls import path

from market.payments import dashboard, views

app_name = "payments"

urlpatterns = [
    path("agents/<int:agent_id>/add-funds/", views.add_funds, name="add-funds"),
    path("earnings/payouts/setup/", views.payouts_setup, name="payouts-setup"),
    path("earnings/payouts/request/", views.payout_request_view, name="payout-request"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
]

dashboard_urls = [
    path("", admin.site.admin_view(dashboard.dashboard), name="payments-dashboard"),
    path(
        "payouts.png",
        admin.site.admin_view(dashboard.payout_chart),
        name="payments-dashboard-chart",
    ),
]
