"""Home, sign up, profile."""

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from market.accounts.models import Role
from market.accounts.services import user_create
from market.core.errors import ApplicationError
from web.forms import SignupForm, add_application_error
from web.selectors import worker_standing
from web.views.common import signed_in_user, worker_of


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


class LoginView(auth_views.LoginView):
    """Email and password; without a ``next``, workers land on Find and requesters on Agents."""

    def get_default_redirect_url(self) -> str:
        if signed_in_user(self.request).role == Role.REQUESTER:
            return reverse("agents")
        return str(super().get_default_redirect_url())


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                email=form.cleaned_data["email"],
                role=Role(form.cleaned_data["role"]),
                password=form.cleaned_data["password1"],
            )
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("find" if user.role == Role.WORKER else "agents")
    status = 400 if form.errors else 200
    return render(request, "registration/signup.html", {"form": form}, status=status)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    worker = worker_of(request)
    return render(
        request, "web/profile.html", {"worker": worker, "standing": worker_standing(worker)}
    )
