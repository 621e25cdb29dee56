"""Requesters add funds, workers set up payouts, and Stripe's webhooks come in."""

import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from market.accounts.models import Agent, Role, User
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.ledger.selectors import wallet_summary
from market.payments import selectors
from market.payments.forms import AddFundsForm
from market.payments.services import (
    checkout_session_create,
    connected_account_onboarding_link,
    payout_request,
    stripe_event_process,
)

logger = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@login_required
def add_funds(request: HttpRequest, agent_id: int) -> HttpResponse:
    """GET: the form. POST: start a Stripe Checkout payment and go there. Only the agent's
    owner; anyone else gets 404 (an agent's existence is not theirs to learn)."""
    agent = get_object_or_404(Agent, pk=agent_id, owner=request.user)
    form = AddFundsForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            here = _absolute(reverse("payments:add-funds", args=[agent.pk]))
            try:
                url = checkout_session_create(
                    agent=agent,
                    amount_minor=form.amount_minor(),
                    success_url=f"{here}?checkout=success",
                    cancel_url=f"{here}?checkout=cancelled",
                )
            except ApplicationError as error:
                form.add_error("amount" if error.extra.get("field") else None, error.message)
                status = error.status
            else:
                return redirect(url)
        else:
            status = 400
    summary = wallet_summary(agent)
    context = {
        "agent": agent,
        "form": form,
        "available": format_money(summary.available_minor, summary.currency),
        "checkout": request.GET.get("checkout", ""),
    }
    return render(request, "payments/add_funds.html", context, status=status)


def _worker(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required
    if user.role != Role.WORKER:
        raise PermissionDenied("Payouts are for workers.")
    return user


@login_required
def payouts_setup(request: HttpRequest) -> HttpResponse:
    """Send the worker to Stripe's onboarding for their Express account. Back from Stripe
    (``?returned=1``), or when Stripe is off, show where their setup stands."""
    worker = _worker(request)
    error = ""
    status = 200
    if not request.GET.get("returned"):
        setup = _absolute(reverse("payments:payouts-setup"))
        try:
            url = connected_account_onboarding_link(
                worker=worker, refresh_url=setup, return_url=f"{setup}?returned=1"
            )
        except ApplicationError as refused:
            error, status = refused.message, refused.status
        else:
            return redirect(url)
    context = {
        "account": selectors.connected_account_of(worker),
        "payouts": worker.payouts.all()[:10],
        "error": error,
    }
    return render(request, "payments/payouts_setup.html", context, status=status)


@login_required
@require_POST
def payout_request_view(request: HttpRequest) -> HttpResponse:
    """The worker asks for their earnings now."""
    worker = _worker(request)
    try:
        payout = payout_request(worker=worker)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        amount = format_money(payout.amount_minor, payout.currency)
        messages.success(request, f"Payout #{payout.pk} of {amount} requested.")
    return redirect(f"{reverse('payments:payouts-setup')}?returned=1")


def _verified_event(request: HttpRequest) -> stripe.Event | None:
    """The event, if the raw body is signed with our endpoint's secret or the Connect
    endpoint's; None otherwise."""
    secrets = (settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET)
    reason = "no webhook secret is set"
    for secret in filter(None, secrets):
        try:
            return stripe.Webhook.construct_event(
                request.body, request.headers.get("Stripe-Signature"), secret
            )
        except (ValueError, stripe.SignatureVerificationError) as error:
            reason = str(error)
    logger.warning("stripe: webhook refused: %s", reason)
    return None


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events. The signature is checked on the raw body before anything is read or
    written (400 if it fails); duplicates and unknown types answer 200; only a temporary failure
    on our side answers 503, so that Stripe delivers the event again."""
    event = _verified_event(request)
    if event is None:
        return JsonResponse({"error": "invalid signature or payload"}, status=400)
    try:
        record = stripe_event_process(event=event.to_dict())
    except OperationalError:
        logger.exception("stripe: event %s failed temporarily", event.id)
        return JsonResponse({"error": "temporary failure, retry"}, status=503)
    return JsonResponse({"received": True, "duplicate": record is None})
