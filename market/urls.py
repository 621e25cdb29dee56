"""URLs. Only this module, settings and the Celery app see every app."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from market.accounts.api import MeApi
from market.core import problems
from market.core import views as core_views
from market.ledger.api import WalletApi, WalletTransactionsApi
from market.payments import urls as payments_urls

api_v1: list[URLPattern | URLResolver] = [
    path("health/", core_views.HealthApi.as_view(), name="health"),
    path("me/", MeApi.as_view(), name="me"),
    path("wallet/", WalletApi.as_view(), name="wallet"),
    path("wallet/transactions/", WalletTransactionsApi.as_view(), name="wallet-transactions"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("", include("bounties.urls")),
    path("", include("forecasting.urls")),
]

urlpatterns = [
    path("llms.txt", core_views.llms_txt, name="llms-txt"),
    path("admin/dashboard/", include(payments_urls.dashboard_urls)),  # before admin/
    path("admin/", admin.site.urls),
    path("", include(payments_urls)),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="v1:schema"),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="v1:schema"),
        name="api-redoc",
    ),
    # Unknown API paths answer problem+json, even with DEBUG on.
    re_path(r"^api/", problems.handler404),
    path("", include("web.urls")),  # the website; last, so it shadows none of the above
]


handler400 = "market.core.problems.handler400"
handler404 = "market.core.problems.handler404"
handler500 = "market.core.problems.handler500"
