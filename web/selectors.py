"""Reads for the website's pages."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from bounties import disclosure
from bounties.models import (
    AWAITING_VERDICT,
    Bounty,
    Claim,
    Submission,
    SubmissionStatus,
)
from bounties.selectors import AgentReviewStats, agent_review_stats, worker_verdicts
from market.accounts.models import Agent, APIKey, User
from market.ledger.selectors import WalletSummary, wallet_summary
from market.ledger.services import earnings_account
from market.payments.models import Payout, PayoutStatus
from verification.policy import reputation


@dataclass(frozen=True)
class WorkerStanding:
    reputation: float | None
    decided_count: int
    accepted_count: int

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted_count / self.decided_count if self.decided_count else None


def worker_standing(worker: User) -> WorkerStanding:
    """The worker's recency-weighted reputation (as verification sees it) and plain
    acceptance rate, over their decided submissions."""
    verdicts = worker_verdicts(worker.pk, limit=None)
    accepted = sum(1 for is_accepted, _ in verdicts if is_accepted)
    return WorkerStanding(
        reputation=reputation(verdicts, timezone.now()),
        decided_count=len(verdicts),
        accepted_count=accepted,
    )


@dataclass(frozen=True)
class Earnings:
    currency: str
    available_minor: int
    pending_minor: int
    paid_minor: int


def worker_earnings(worker: User) -> list[Earnings]:
    """Per currency: what is available to pay out (the earnings account), what waits for a
    verdict (price of each submission awaiting one), and what has been paid out."""
    pending: dict[str, int] = defaultdict(int)
    for row in (
        Submission.objects.filter(worker=worker, status__in=AWAITING_VERDICT)
        .values("bounty__currency")
        .annotate(total=Sum("bounty__price_minor"))
    ):
        pending[row["bounty__currency"]] += row["total"] or 0
    paid: dict[str, int] = defaultdict(int)
    for row in (
        Payout.objects.filter(worker=worker, status=PayoutStatus.PAID)
        .values("currency")
        .annotate(total=Sum("amount_minor"))
    ):
        paid[row["currency"]] += row["total"] or 0
    earned_in = set(
        Submission.objects.filter(worker=worker, status=SubmissionStatus.ACCEPTED)
        .values_list("bounty__currency", flat=True)
        .distinct()
    )
    currencies = sorted({settings.SUPPORTED_CURRENCIES[0], *pending, *paid, *earned_in})
    return [
        Earnings(
            currency=currency,
            available_minor=earnings_account(worker=worker, currency=currency).balance_minor,
            pending_minor=pending[currency],
            paid_minor=paid[currency],
        )
        for currency in currencies
    ]


def payouts_of(worker: User) -> QuerySet[Payout]:
    return Payout.objects.filter(worker=worker).order_by("-created_at")


def visible_bounty(bounty_id: int, user: User | None) -> Bounty:
    """A bounty the viewer may see: test workers see test bounties only, everyone else live
    ones (the same rule as ``claim_create``)."""
    test_mode = bool(user is not None and user.is_test_worker)
    bounty = Bounty.objects.filter(pk=bounty_id, is_test=test_mode).first()
    if bounty is None:
        raise Http404("No such bounty")
    return bounty


def claim_active(bounty: Bounty, worker: User) -> Claim | None:
    return Claim.objects.holding(timezone.now()).filter(bounty=bounty, worker=worker).first()


def claim_latest(bounty: Bounty, worker: User) -> Claim | None:
    return Claim.objects.filter(bounty=bounty, worker=worker).order_by("-created_at").first()


def submissions_of(worker: User) -> QuerySet[Submission]:
    return Submission.objects.filter(worker=worker).select_related("bounty")


@dataclass(frozen=True)
class AgentWallet:
    agent: Agent
    wallet: WalletSummary


def agents_of(owner: User) -> list[AgentWallet]:
    agents = Agent.objects.filter(owner=owner).order_by("name")
    return [AgentWallet(agent=agent, wallet=wallet_summary(agent)) for agent in agents]


def agent_of(owner: User, agent_id: int) -> Agent:
    """The owner's agent; anyone else gets 404 (its existence is not theirs to learn)."""
    agent = Agent.objects.filter(pk=agent_id, owner=owner).first()
    if agent is None:
        raise Http404("No such agent")
    return agent


def keys_of(agent: Agent) -> QuerySet[APIKey]:
    return APIKey.objects.filter(agent=agent).select_related("agent").order_by("-created_at")


def gallery_of(agent: Agent) -> QuerySet[Submission]:
    """The agent's accepted photos that are ready to deliver, newest first."""
    return (
        Submission.objects.filter(bounty__agent=agent, status=SubmissionStatus.ACCEPTED)
        .exclude(Q(delivered_photo="") | Q(delivered_photo__isnull=True))
        .select_related("bounty", "receipt")
        .order_by("-decided_at", "-id")
    )


def delivered_submission(owner: User, submission_id: int) -> Submission:
    """An accepted submission of one of the owner's agents; 404 for anyone else."""
    submission = (
        Submission.objects.filter(
            pk=submission_id, bounty__agent__owner=owner, status=SubmissionStatus.ACCEPTED
        )
        .select_related("bounty")
        .first()
    )
    if submission is None or not submission.delivered_photo:
        raise Http404("No such photo")
    return submission


def buyer_records(agent_ids: Iterable[int]) -> dict[int, AgentReviewStats]:
    """Each agent's fair-use record (``agent_review_stats``: its rejection rate over its last
    decisions, its rejections overturned on appeal), by agent id, for workers to judge the
    buyer by: one query per distinct agent."""
    agents = Agent.objects.in_bulk(set(agent_ids))
    return {agent_id: agent_review_stats(agent) for agent_id, agent in agents.items()}


# How the requester's pages group a bounty's submissions.
SUBMISSION_GROUPS = {
    SubmissionStatus.RECEIVED: "checking",
    SubmissionStatus.VERIFYING: "checking",
    SubmissionStatus.NEEDS_REVIEW: "waiting",
    SubmissionStatus.ACCEPTED: "accepted",
    SubmissionStatus.REJECTED: "rejected",
}


def submission_counts(bounties: Iterable[Bounty]) -> dict[int, dict[str, int]]:
    """Per bounty id, how many of its submissions are being checked, waiting for a review,
    accepted and rejected (one grouped query)."""
    ids = [bounty.pk for bounty in bounties]
    counts: dict[int, dict[str, int]] = {
        bounty_id: dict.fromkeys(("checking", "waiting", "accepted", "rejected"), 0)
        for bounty_id in ids
    }
    rows = (
        Submission.objects.filter(bounty_id__in=ids)
        .values_list("bounty_id", "status")
        .annotate(count=Count("id"))
    )
    for bounty_id, status, count in rows:
        counts[bounty_id][SUBMISSION_GROUPS[SubmissionStatus(status)]] += count
    return counts


def agent_bounty(agent: Agent, bounty_id: int) -> Bounty:
    """One of the agent's bounties; 404 for any other."""
    bounty = Bounty.objects.filter(pk=bounty_id, agent=agent).first()
    if bounty is None:
        raise Http404("No such bounty")
    return bounty


@dataclass(frozen=True)
class BoughtSubmission:
    """A submission as its buyer may see it (``bounties.disclosure``: nothing of the worker
    before acceptance), with the facts the requester's pages show."""

    submission: Submission
    checks: list[dict[str, Any]]
    reasons: list[str]

    @property
    def rejected_by_buyer(self) -> bool:
        return self.submission.agent_verdict == SubmissionStatus.REJECTED

    @property
    def overturned(self) -> bool:
        """The buyer rejected it; operators accepted it on appeal."""
        return self.rejected_by_buyer and self.submission.status == SubmissionStatus.ACCEPTED


def bounty_submissions(bounty: Bounty, *, limit: int) -> list[BoughtSubmission]:
    """The bounty's submissions, newest first (at most ``limit``), as its buyer may see it."""
    submissions = (
        Submission.objects.filter(bounty=bounty)
        .select_related("bounty")
        .order_by("-received_at", "-id")[:limit]
    )
    return [
        BoughtSubmission(
            submission=submission,
            checks=disclosure.agent_checks(submission),
            reasons=disclosure.agent_reasons(submission),
        )
        for submission in submissions
    ]


def reviewable_submission(owner: User, submission_id: int) -> Submission:
    """A submission of one of the owner's agents that waits for that agent's review and has its
    preview; 404 for anything else (the owner sees what its agent judges, nothing more)."""
    submission = (
        Submission.objects.filter(pk=submission_id, bounty__agent__owner=owner)
        .select_related("bounty")
        .first()
    )
    if submission is None or not submission.awaits_agent or not submission.preview:
        raise Http404("No such preview")
    return submission
