"""Home, sign up, log in, password reset, profile.

Failed log-ins are counted by django-axes (per account and per address, ``AXES_*`` settings);
sign-ups and reset requests by ``market.accounts.throttle``. Each refusal is a message next to
the form with status 429. Sign-up and reset answer the same whether or not the email has an
account.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse

from market.accounts.models import Role
from market.accounts.services import user_confirm_signup, user_for_signup_link, user_sign_up
from market.accounts.throttle import address_allowed, mail_allowed
from market.core.errors import ApplicationError
from market.core.proxies import client_ip
from web.forms import SignupForm, add_application_error
from web.selectors import worker_standing
from web.views.common import signed_in_user, worker_of

TOO_MANY = 429
TOO_MANY_FROM_ADDRESS = (
    "Too many attempts from your network in the last hour. Wait an hour and try again."
)
TOO_MANY_MAILS = (
    "We have already sent several emails to this address in the last hour. Check your inbox "
    "and spam folder, or try again in an hour."
)


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        "Too many failed log-ins for this account or from your network: log-ins are paused "
        f"for {minutes} minutes. Wait and try again, or reset your password."
    )


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


class LoginView(auth_views.LoginView):
    """Email and password; without a ``next``, workers land on Find and requesters on Agents.
    A locked-out client sees why next to the form (django-axes flags the request)."""

    def get_default_redirect_url(self) -> str:
        if signed_in_user(self.request).role == Role.REQUESTER:
            return reverse("agents")
        return str(super().get_default_redirect_url())

    def form_invalid(self, form: Any) -> HttpResponse:
        if not getattr(self.request, "axes_locked_out", False):
            return super().form_invalid(form)
        form.errors.pop("__all__", None)
        form.add_error(None, lockout_message())
        return self.render_to_response(self.get_context_data(form=form), status=TOO_MANY)


def locked_out(
    request: HttpRequest, original_response: HttpResponseBase | None, credentials: Any = None
) -> HttpResponseBase:
    """``AXES_LOCKOUT_CALLABLE``: the website's log-in page already explains a lockout; any other
    (the admin's) gets a page that says what happened, not a bare status."""
    if original_response is not None and original_response.status_code == TOO_MANY:
        return original_response
    return render(
        request, "registration/locked_out.html", {"message": lockout_message()}, status=TOO_MANY
    )


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not address_allowed(action="signup", address=client_ip(request)):
            form.is_valid()
            form.add_error(None, TOO_MANY_FROM_ADDRESS)
            status = TOO_MANY
        elif form.is_valid():
            email = form.cleaned_data["email"]
            if not mail_allowed(email=email):
                form.add_error(None, TOO_MANY_MAILS)
                status = TOO_MANY
            else:
                try:
                    user_sign_up(
                        email=email,
                        role=Role(form.cleaned_data["role"]),
                        password=form.cleaned_data["password1"],
                    )
                except ApplicationError as error:
                    add_application_error(form, error)
                else:
                    return render(request, "registration/signup_done.html", {"email": email})
    if form.errors and status == 200:
        status = 400
    return render(request, "registration/signup.html", {"form": form}, status=status)


def signup_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The emailed link: a page with a button (mail scanners follow links; they do not press
    buttons), which confirms the account and logs its owner in."""
    if request.method == "POST":
        user = user_confirm_signup(uidb64=uidb64, token=token)
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("agents" if user.role == Role.REQUESTER else "find")
    else:
        user = user_for_signup_link(uidb64=uidb64, token=token)
        if user is not None:
            context = {"valid": True, "email": user.email}
            return render(request, "registration/signup_confirm.html", context)
    return render(request, "registration/signup_confirm.html", {"valid": False}, status=400)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset (the same answer whether or not the address has an account), limited per
    client address and per email address, with links to ``SITE_URL`` whatever Host was sent."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not address_allowed(action="reset", address=client_ip(request)):
            return self._refuse(self.get_form(), TOO_MANY_FROM_ADDRESS)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        if not mail_allowed(email=form.cleaned_data["email"]):
            return self._refuse(form, TOO_MANY_MAILS)
        site = urlsplit(settings.SITE_URL)
        self.extra_email_context = {"protocol": site.scheme, "domain": site.netloc}
        return super().form_valid(form)

    def _refuse(self, form: PasswordResetForm, message: str) -> HttpResponse:
        form.is_valid()
        form.add_error(None, message)
        return self.render_to_response(self.get_context_data(form=form), status=TOO_MANY)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    worker = worker_of(request)
    return render(
        request, "web/profile.html", {"worker": worker, "standing": worker_standing(worker)}
    )
