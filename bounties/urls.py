"""The bounties part of ``/api/v1/``."""

from django.urls import path

from bounties import api

urlpatterns = [
    path("bounties/", api.BountiesApi.as_view(), name="bounties"),
    path("bounties/<int:bounty_id>/", api.BountyApi.as_view(), name="bounty"),
    path("bounties/<int:bounty_id>/cancel/", api.BountyCancelApi.as_view(), name="bounty-cancel"),
    path("submissions/", api.SubmissionsApi.as_view(), name="submissions"),
    path("submissions/<int:submission_id>/", api.SubmissionApi.as_view(), name="submission"),
    path(
        "submissions/<int:submission_id>/photo/",
        api.SubmissionPhotoApi.as_view(),
        name="submission-photo",
    ),
    path(
        "submissions/<int:submission_id>/preview/",
        api.SubmissionPreviewApi.as_view(),
        name="submission-preview",
    ),
    path(
        "submissions/<int:submission_id>/accept/",
        api.SubmissionAcceptApi.as_view(),
        name="submission-accept",
    ),
    path(
        "submissions/<int:submission_id>/reject/",
        api.SubmissionRejectApi.as_view(),
        name="submission-reject",
    ),
    path(
        "submissions/<int:submission_id>/receipt/",
        api.SubmissionReceiptApi.as_view(),
        name="submission-receipt",
    ),
    path("keys/", api.PublicKeysApi.as_view(), name="keys"),
    path("webhook-endpoints/", api.WebhookEndpointsApi.as_view(), name="webhook-endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>/",
        api.WebhookEndpointApi.as_view(),
        name="webhook-endpoint",
    ),
]
