"""The website's URLs, included at the root after the admin and API routes."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from web.views import accounts, requester, worker

urlpatterns = [
    path("", accounts.home, name="home"),
    path("signup/", accounts.signup, name="signup"),
    path(
        "signup/confirm/<str:uidb64>/<str:token>/",
        accounts.signup_confirm,
        name="signup-confirm",
    ),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path(
        "accounts/password_reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="home"), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("profile/", accounts.profile, name="profile"),
    path("find/", worker.find, name="find"),
    path("bounties/<int:bounty_id>/", worker.bounty_detail, name="bounty"),
    path("bounties/<int:bounty_id>/claim/", worker.claim, name="claim"),
    path("bounties/<int:bounty_id>/release/", worker.release, name="release"),
    path("bounties/<int:bounty_id>/upload/", worker.upload, name="upload"),
    path("submissions/", worker.submissions, name="submissions"),
    path("submissions/<int:submission_id>/", worker.submission_card, name="submission-card"),
    path("submissions/<int:submission_id>/appeal/", worker.appeal, name="appeal"),
    path("earnings/", worker.earnings, name="earnings"),
    path("earnings/pay-now/", worker.pay_now, name="pay-now"),
    path("agents/", requester.agents, name="agents"),
    path("agents/<int:agent_id>/", requester.agent, name="agent"),
    path("agents/<int:agent_id>/keys/", requester.key_create, name="key-create"),
    path(
        "agents/<int:agent_id>/keys/<int:key_id>/revoke/",
        requester.key_revoke,
        name="key-revoke",
    ),
    path("agents/<int:agent_id>/gallery/", requester.gallery, name="gallery"),
    path(
        "agents/<int:agent_id>/bounties/<int:bounty_id>/",
        requester.bounty_page,
        name="agent-bounty",
    ),
    path("previews/<int:submission_id>/", requester.preview, name="preview"),
    path("photos/<int:submission_id>/", requester.photo, name="photo"),
    path("photos/<int:submission_id>/receipt.json", requester.receipt, name="receipt"),
]
