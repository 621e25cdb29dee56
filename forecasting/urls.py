"""The questions part of ``/api/v1/``."""

from django.urls import path

from forecasting import api

urlpatterns = [
    path("questions/", api.QuestionsApi.as_view(), name="questions"),
    path("questions/<int:question_id>/", api.QuestionApi.as_view(), name="question"),
    path(
        "questions/<int:question_id>/bounties/",
        api.QuestionBountiesApi.as_view(),
        name="question-bounties",
    ),
    path(
        "questions/<int:question_id>/resolve/",
        api.QuestionResolveApi.as_view(),
        name="question-resolve",
    ),
    path(
        "questions/<int:question_id>/forecast",
        api.QuestionForecastApi.as_view(),
        name="question-forecast",
    ),
    path(
        "questions/<int:question_id>/acquisitions",
        api.QuestionAcquisitionsApi.as_view(),
        name="question-acquisitions",
    ),
]
