"""The workers' pages: find, a bounty, claim and release, upload, submissions, earnings."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bounties.models import Claim, Submission
from bounties.selectors import bounties_near, with_open_slots
from bounties.services import ReportedLocation, claim_create, claim_release, submission_create
from market.accounts.models import User
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.payments.services import payout_request
from web.forms import AppealForm, FindForm, UploadForm, add_application_error
from web.selectors import (
    buyer_records,
    claim_active,
    claim_latest,
    payouts_of,
    submissions_of,
    visible_bounty,
    worker_earnings,
)
from web.services import submission_appeal
from web.views.common import viewer_or_none, worker_of

POLL_SECONDS = 3


def find(request: HttpRequest) -> HttpResponse:
    """Open bounties nearest first from the browser's position or a typed place."""
    form = FindForm(request.GET or None)
    viewer = viewer_or_none(request)
    results: list[dict[str, Any]] = []
    place = None
    if form.is_bound and form.is_valid():
        place = form.location()
    if place is not None:
        nearby = bounties_near(
            lat=place.lat,
            lon=place.lon,
            within_m=form.within_m(),
            test_mode=bool(viewer and viewer.is_test_worker),
        )
        min_pay_minor = form.min_pay_minor()
        nearby = [near for near in nearby if near.bounty.price_minor >= min_pay_minor]
        with_open_slots([near.bounty for near in nearby])
        buyers = buyer_records(near.bounty.agent_id for near in nearby)
        results = [
            {
                "bounty": near.bounty,
                "distance_m": near.distance_m,
                "buyer": buyers.get(near.bounty.agent_id),
            }
            for near in nearby
        ]
    markers = [
        {
            "lat": row["bounty"].lat,
            "lon": row["bounty"].lon,
            "title": row["bounty"].title,
            "url": reverse("bounty", args=[row["bounty"].pk]),
        }
        for row in results
    ]
    context = {
        "form": form,
        "place": place,
        "results": results,
        "map_data": {
            "here": {"lat": place.lat, "lon": place.lon} if place else None,
            "markers": markers,
        },
        "tile_url": settings.MAP_TILE_URL,
    }
    return render(request, "web/find.html", context, status=400 if form.errors else 200)


def bounty_detail(request: HttpRequest, bounty_id: int) -> HttpResponse:
    viewer = viewer_or_none(request)
    bounty = visible_bounty(bounty_id, viewer)
    with_open_slots([bounty])
    claim = claim_active(bounty, viewer) if viewer else None
    context = {
        "bounty": bounty,
        "buyer": buyer_records([bounty.agent_id]).get(bounty.agent_id),
        "claim": claim,
        "map_data": {"lat": bounty.lat, "lon": bounty.lon, "radius_m": bounty.radius_m},
        "tile_url": settings.MAP_TILE_URL,
    }
    return render(request, "web/bounty.html", context)


@login_required
@require_POST
def claim(request: HttpRequest, bounty_id: int) -> HttpResponse:
    worker = worker_of(request)
    bounty = visible_bounty(bounty_id, worker)
    try:
        claim_create(bounty=bounty, worker=worker)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("bounty", bounty_id=bounty.pk)
    messages.success(request, "The slot is yours for now: take the photo before the hold ends.")
    return redirect("upload", bounty_id=bounty.pk)


@login_required
@require_POST
def release(request: HttpRequest, bounty_id: int) -> HttpResponse:
    worker = worker_of(request)
    bounty = visible_bounty(bounty_id, worker)
    active = claim_active(bounty, worker)
    if active is not None:
        claim_release(claim=active, worker=worker)
        messages.success(request, "You released the slot; someone else can take it.")
    return redirect("bounty", bounty_id=bounty.pk)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))  # set by django_htmx's middleware


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
def upload(request: HttpRequest, bounty_id: int) -> HttpResponse:
    """The photo against the worker's claim. A retry with the same upload id returns the first
    submission (the service guarantees it), so a flaky connection never uploads twice."""
    worker = worker_of(request)
    bounty = visible_bounty(bounty_id, worker)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            latest: Claim | None = claim_latest(bounty, worker)
            try:
                if latest is None:
                    raise ApplicationError(
                        "no_claim", "Claim this bounty before uploading a photo.", status=409
                    )
                submission, created = _submit(form, latest, worker)
            except ApplicationError as error:
                add_application_error(form, error)
                status = error.status
            else:
                if not created:
                    messages.info(request, "We already had this photo: it was not sent twice.")
                target = f"{reverse('submissions')}#submission-{submission.pk}"
                if _wants_json(request):
                    return JsonResponse({"redirect": target}, status=201 if created else 200)
                return redirect(target)
        if _wants_json(request):
            return JsonResponse({"errors": form.errors.get_json_data()}, status=status)
    elif claim_active(bounty, worker) is None:
        messages.info(request, "Claim this bounty first; then upload your photo.")
        return redirect("bounty", bounty_id=bounty.pk)
    context = {
        "bounty": bounty,
        "claim": claim_active(bounty, worker),
        "form": form,
        "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
    }
    return render(request, "web/upload.html", context, status=status)


def _submit(form: UploadForm, claim: Claim, worker: User) -> tuple[Submission, bool]:
    data = form.cleaned_data
    location = None
    if data.get("lat") is not None and data.get("lon") is not None:
        location = ReportedLocation(
            lat=data["lat"], lon=data["lon"], accuracy_m=data.get("accuracy_m")
        )
    return submission_create(
        claim=claim,
        worker=worker,
        upload_id=data["upload_id"],
        photo=data["photo"],
        content_type=data["content_type"],
        note=data.get("note") or "",
        location=location,
    )


@login_required
def submissions(request: HttpRequest) -> HttpResponse:
    worker = worker_of(request)
    context = {"submissions": submissions_of(worker)[:100], "poll_seconds": POLL_SECONDS}
    return render(request, "web/submissions.html", context)


def _card(
    request: HttpRequest, submission: Submission, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"submission": submission, "poll_seconds": POLL_SECONDS, **extra}
    return render(request, "web/_submission.html", context, status=status)


@login_required
def submission_card(request: HttpRequest, submission_id: int) -> HttpResponse:
    """One submission's card: polled by htmx while the checks run."""
    worker = worker_of(request)
    submission = get_object_or_404(submissions_of(worker), pk=submission_id)
    return _card(request, submission)


@login_required
@require_POST
def appeal(request: HttpRequest, submission_id: int) -> HttpResponse:
    worker = worker_of(request)
    submission = get_object_or_404(submissions_of(worker), pk=submission_id)
    form = AppealForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            submission = submission_appeal(
                submission=submission, worker=worker, note=form.cleaned_data["note"]
            )
        except ApplicationError as error:
            add_application_error(form, error)
            status = error.status
        else:
            if _is_htmx(request):
                return _card(request, submission, appealed=True)
            messages.success(request, "Appeal sent: a person will look at your photo.")
            return redirect("submissions")
    if _is_htmx(request):
        return _card(request, submission, appeal_form=form, status=status)
    for errors in form.errors.values():
        for message in errors:
            messages.error(request, str(message))
    return redirect("submissions")


@login_required
def earnings(request: HttpRequest) -> HttpResponse:
    worker = worker_of(request)
    context = {
        "earnings": worker_earnings(worker),
        "payouts": payouts_of(worker)[:50],
        "minimum_minor": settings.PAYOUT_MINIMUM_MINOR,
    }
    return render(request, "web/earnings.html", context)


@login_required
@require_POST
def pay_now(request: HttpRequest) -> HttpResponse:
    worker = worker_of(request)
    currency = request.POST.get("currency") or settings.SUPPORTED_CURRENCIES[0]
    if currency not in settings.SUPPORTED_CURRENCIES:
        messages.error(request, "That currency is not supported.")
        return redirect("earnings")
    try:
        payout = payout_request(worker=worker, currency=currency)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        amount = format_money(payout.amount_minor, payout.currency)
        messages.success(request, f"Payout of {amount} requested.")
    return redirect("earnings")
