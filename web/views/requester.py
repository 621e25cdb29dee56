"""The requesters' pages: agents and wallets, API keys, bounties, the gallery of photos."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bounties.models import Receipt
from bounties.receipts import ALGORITHM
from bounties.selectors import agent_review_stats, bounties_for_agent, with_open_slots
from market.accounts.models import Agent
from market.accounts.services import agent_create, api_key_create, api_key_revoke
from market.core.errors import ApplicationError
from market.ledger.selectors import wallet_summary
from web.forms import AgentForm, ApiKeyForm, add_application_error
from web.selectors import (
    agent_bounty,
    agent_of,
    agents_of,
    bounty_submissions,
    delivered_submission,
    gallery_of,
    keys_of,
    reviewable_submission,
    submission_counts,
)
from web.views.common import requester_of

BOUNTIES_SHOWN = 50
SUBMISSIONS_SHOWN = 200


@login_required
def agents(request: HttpRequest) -> HttpResponse:
    """The requester's agents with their wallets; POST creates an agent."""
    owner = requester_of(request)
    form = AgentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                agent = agent_create(
                    owner=owner,
                    name=form.cleaned_data["name"],
                    is_test=form.cleaned_data["is_test"],
                )
            except ApplicationError as error:
                add_application_error(form, error)
                status = error.status
            else:
                messages.success(request, f"Agent {agent.name} created. Now give it an API key.")
                return redirect("agent", agent_id=agent.pk)
    context = {"agents": agents_of(owner), "form": form}
    return render(request, "web/agents.html", context, status=status)


def _agent_page(
    request: HttpRequest,
    agent: Agent,
    *,
    key_form: ApiKeyForm | None = None,
    new_key: str = "",
    status: int = 200,
) -> HttpResponse:
    bounties = with_open_slots(bounties_for_agent(agent)[:BOUNTIES_SHOWN])
    counts = submission_counts(bounties)
    context = {
        "agent": agent,
        "wallet": wallet_summary(agent),
        "keys": keys_of(agent),
        "key_form": key_form or ApiKeyForm(),
        "new_key": new_key,
        "bounties": bounties,
        "bounty_rows": [(bounty, counts[bounty.pk]) for bounty in bounties],
        "review": agent_review_stats(agent),
    }
    return render(request, "web/agent.html", context, status=status)


@login_required
def agent(request: HttpRequest, agent_id: int) -> HttpResponse:
    owner = requester_of(request)
    return _agent_page(request, agent_of(owner, agent_id))


@login_required
def bounty_page(request: HttpRequest, agent_id: int, bounty_id: int) -> HttpResponse:
    """One of the agent's bounties with its submissions, as the agent may see them: waiting
    for a review, rejected with the reasons, accepted with the photo."""
    agent = agent_of(requester_of(request), agent_id)
    found = agent_bounty(agent, bounty_id)
    with_open_slots([found])
    context = {
        "agent": agent,
        "bounty": found,
        "submissions": bounty_submissions(found, limit=SUBMISSIONS_SHOWN),
        "shown": SUBMISSIONS_SHOWN,
    }
    return render(request, "web/agent_bounty.html", context)


@login_required
def preview(request: HttpRequest, submission_id: int) -> FileResponse:
    """The preview the owner's agent judges a submission by (never the photo itself)."""
    submission = reviewable_submission(requester_of(request), submission_id)
    response = FileResponse(
        submission.preview.open("rb"),
        content_type="image/jpeg",
        filename=f"submission-{submission.pk}-preview.jpg",
    )
    response["Cache-Control"] = "private, max-age=600"
    return response


@never_cache
@login_required
@require_POST
def key_create(request: HttpRequest, agent_id: int) -> HttpResponse:
    """A new key, rendered once in this response (never stored or redirected with)."""
    owner = requester_of(request)
    agent = agent_of(owner, agent_id)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _agent_page(request, agent, key_form=form, status=400)
    try:
        _api_key, full_key = api_key_create(
            agent=agent, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _agent_page(request, agent, key_form=form, status=error.status)
    return _agent_page(request, agent, new_key=full_key, status=201)


@login_required
@require_POST
def key_revoke(request: HttpRequest, agent_id: int, key_id: int) -> HttpResponse:
    owner = requester_of(request)
    agent = agent_of(owner, agent_id)
    api_key = get_object_or_404(keys_of(agent), pk=key_id)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.display_prefix}… revoked.")
    return redirect("agent", agent_id=agent.pk)


@login_required
def gallery(request: HttpRequest, agent_id: int) -> HttpResponse:
    owner = requester_of(request)
    agent = agent_of(owner, agent_id)
    context = {"agent": agent, "submissions": gallery_of(agent)[:100]}
    return render(request, "web/gallery.html", context)


@login_required
def photo(request: HttpRequest, submission_id: int) -> FileResponse:
    """The delivered (cleaned) photo, streamed to the owner of the bounty's agent only."""
    submission = delivered_submission(requester_of(request), submission_id)
    response = FileResponse(
        submission.delivered_photo.open("rb"),
        content_type="image/jpeg",
        filename=f"submission-{submission.pk}.jpg",
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def receipt(request: HttpRequest, submission_id: int) -> JsonResponse:
    """The signed provenance receipt, as the API serves it."""
    submission = delivered_submission(requester_of(request), submission_id)
    signed = get_object_or_404(Receipt, submission=submission)
    return JsonResponse(
        {
            "receipt": signed.document,
            "signature": signed.signature,
            "key_id": signed.key_id,
            "algorithm": ALGORITHM,
        },
        json_dumps_params={"indent": 2},
    )
