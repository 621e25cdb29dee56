"""Bounties, claims and submissions, with their state machines.

Allowed transitions live beside each model (``*_TRANSITIONS``); services in
``bounties/services.py`` are the only code that changes a status, each under a row lock and
with an event row recording old, new, actor and reason.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from market.accounts.models import Agent

MIN_RADIUS_M = 10
MAX_RADIUS_M = 50_000
MAX_QUANTITY = 1_000
MAX_METADATA_BYTES = 8 * 1024
DEFAULT_CLAIM_TTL = timedelta(minutes=30)
DEFAULT_AUTO_APPROVE_AFTER = timedelta(hours=24)


class BountyStatus(models.TextChoices):
    OPEN = "open", "Open"
    FULFILLED = "fulfilled", "Fulfilled"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


BOUNTY_TRANSITIONS: dict[str, frozenset[str]] = {
    BountyStatus.OPEN: frozenset(
        {BountyStatus.FULFILLED, BountyStatus.EXPIRED, BountyStatus.CANCELLED}
    ),
    BountyStatus.FULFILLED: frozenset(),
    BountyStatus.EXPIRED: frozenset(),
    BountyStatus.CANCELLED: frozenset(),
}


class ReviewMode(models.TextChoices):
    """Who judges a bounty's photos that pass the checks but need a judgment (a bounty option)."""

    AUTO = "auto", "Automatic (the checks decide; a person only where they cannot)"
    AGENT = "agent", "The bounty's agent"
    OPERATOR = "operator", "Operators"


class Reviewer(models.TextChoices):
    """Who a submission in review waits for."""

    AGENT = "agent", "The bounty's agent"
    OPERATOR = "operator", "Operators"


class Bounty(models.Model):
    """An agent's priced request for photos at a place and time."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="bounties")
    title = models.CharField(max_length=200)
    instructions = models.TextField(max_length=5_000, blank=True)
    verify = models.CharField(
        max_length=500, help_text="What the photo must show, in words (read by the vision model)."
    )
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    price_minor = models.BigIntegerField(help_text="Paid to the worker per accepted submission.")
    fee_minor = models.BigIntegerField(help_text="The platform's fee per accepted submission.")
    currency = models.CharField(max_length=3)
    quantity = models.PositiveIntegerField()
    accepted_count = models.PositiveIntegerField(default=0)
    claim_ttl = models.DurationField(default=DEFAULT_CLAIM_TTL)
    require_gps = models.BooleanField(default=True)
    max_per_worker = models.PositiveSmallIntegerField(default=1)
    auto_approve_after = models.DurationField(default=DEFAULT_AUTO_APPROVE_AFTER)
    blur_faces = models.BooleanField(default=True)
    review = models.CharField(
        max_length=8,
        choices=ReviewMode.choices,
        default=ReviewMode.OPERATOR,
        help_text="Who judges photos that pass the checks but need a judgment.",
    )
    metadata = models.JSONField(default=dict, blank=True)
    is_test = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=BountyStatus.choices, default=BountyStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "bounties"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(lat__gte=-90, lat__lte=90), name="bounty_lat"),
            models.CheckConstraint(condition=Q(lon__gte=-180, lon__lte=180), name="bounty_lon"),
            models.CheckConstraint(
                condition=Q(radius_m__gte=MIN_RADIUS_M, radius_m__lte=MAX_RADIUS_M),
                name="bounty_radius",
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="bounty_window"),
            models.CheckConstraint(condition=Q(price_minor__gt=0), name="bounty_price_positive"),
            models.CheckConstraint(condition=Q(fee_minor__gte=0), name="bounty_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_QUANTITY), name="bounty_quantity"
            ),
            models.CheckConstraint(
                condition=Q(accepted_count__lte=F("quantity")), name="bounty_accepted_le_quantity"
            ),
            models.CheckConstraint(
                condition=Q(max_per_worker__gte=1), name="bounty_max_per_worker"
            ),
            models.CheckConstraint(
                condition=Q(status=BountyStatus.OPEN) | Q(closed_at__isnull=False),
                name="bounty_closed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "-created_at"], name="bounty_agent_created"),
            models.Index(fields=["status", "ends_at"], name="bounty_status_ends"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def slot_cost_minor(self) -> int:
        """What one slot holds in escrow: the worker's price plus the platform's fee."""
        return self.price_minor + self.fee_minor

    @property
    def is_open(self) -> bool:
        return self.status == BountyStatus.OPEN


def slots_left(*, quantity: int, accepted_count: int, reserved: int) -> int:
    """The open-slot rule, the one place it is written: ``quantity`` less the accepted and the
    ``reserved`` (claims still holding, submissions awaiting a verdict), never below zero.
    ``bounties.selectors`` counts ``reserved`` (in SQL for the nearest search, with the ORM
    elsewhere; a test compares the two)."""
    return max(0, quantity - accepted_count - reserved)


class BountyEvent(models.Model):
    """A transition of a bounty: the history is data."""

    bounty = models.ForeignKey(Bounty, on_delete=models.PROTECT, related_name="events")
    old_status = models.CharField(max_length=16, blank=True)
    new_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=100)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"bounty #{self.bounty_id}: {self.old_status or '-'} -> {self.new_status}"


class ClaimStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


CLAIM_TRANSITIONS: dict[str, frozenset[str]] = {
    ClaimStatus.ACTIVE: frozenset(
        {ClaimStatus.SUBMITTED, ClaimStatus.RELEASED, ClaimStatus.EXPIRED}
    ),
    ClaimStatus.SUBMITTED: frozenset(),
    ClaimStatus.RELEASED: frozenset(),
    ClaimStatus.EXPIRED: frozenset(),
}


# An upload started before the hold ended still counts if it arrives within this grace (a slow
# connection on the spot): the claim keeps its slot until then, and only then lapses.
CLAIM_UPLOAD_GRACE = timedelta(minutes=2)


def claim_holds_after(now: datetime) -> datetime:
    """When a claim ends: an active claim whose hold (``expires_at``) is later than this still
    holds its slot and takes an upload; at or before it, the claim has lapsed. The one rule
    for the services, the slot counts (the search's SQL too) and the worker's pages."""
    return now - CLAIM_UPLOAD_GRACE


class ClaimQuerySet(models.QuerySet["Claim"]):
    def holding(self, now: datetime) -> "ClaimQuerySet":
        """Active claims that have not ended: each holds a slot and may still be uploaded to."""
        return self.filter(status=ClaimStatus.ACTIVE, expires_at__gt=claim_holds_after(now))

    def ended(self, now: datetime) -> "ClaimQuerySet":
        """Active claims that have ended and are waiting to be marked expired."""
        return self.filter(status=ClaimStatus.ACTIVE, expires_at__lte=claim_holds_after(now))


class Claim(models.Model):
    """A worker holding one slot of a bounty for ``claim_ttl`` while taking the photo (plus
    ``CLAIM_UPLOAD_GRACE`` for an upload under way when the hold ends)."""

    bounty = models.ForeignKey(Bounty, on_delete=models.PROTECT, related_name="claims")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims"
    )
    status = models.CharField(
        max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()  # the end of the hold the worker is shown
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ClaimQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["bounty", "status"], name="claim_bounty_status"),
            models.Index(fields=["status", "expires_at"], name="claim_status_expires"),
        ]
        constraints = [
            # One live claim per worker and bounty; more slots are claimed one after another.
            models.UniqueConstraint(
                fields=["bounty", "worker"],
                condition=Q(status="active"),
                name="claim_one_active_per_worker",
            )
        ]

    def __str__(self) -> str:
        return f"claim #{self.pk} on bounty #{self.bounty_id} by {self.worker_id}"

    def holds_at(self, now: datetime) -> bool:
        """Whether the claim still holds its slot and takes an upload (``ClaimQuerySet.holding``
        for one row)."""
        return self.status == ClaimStatus.ACTIVE and self.expires_at > claim_holds_after(now)


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    VERIFYING = "verifying", "Verifying"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    NEEDS_REVIEW = "needs_review", "Needs review"


# Submissions in these states hold a slot until a verdict.
AWAITING_VERDICT = (
    SubmissionStatus.RECEIVED,
    SubmissionStatus.VERIFYING,
    SubmissionStatus.NEEDS_REVIEW,
)

AWAITING_DECISION_EXITS = frozenset(
    {SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED, SubmissionStatus.NEEDS_REVIEW}
)

SUBMISSION_TRANSITIONS: dict[str, frozenset[str]] = {
    SubmissionStatus.RECEIVED: frozenset({SubmissionStatus.VERIFYING, *AWAITING_DECISION_EXITS}),
    SubmissionStatus.VERIFYING: AWAITING_DECISION_EXITS,
    SubmissionStatus.NEEDS_REVIEW: frozenset(
        {SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED}
    ),
    # A rejection may be appealed once, which sends it to the operators' review queue.
    SubmissionStatus.REJECTED: frozenset({SubmissionStatus.NEEDS_REVIEW}),
    SubmissionStatus.ACCEPTED: frozenset(),
}


def submission_upload_path(submission: "Submission", filename: str) -> str:
    return f"submissions/originals/{submission.bounty_id}/{submission.upload_id}"


class Submission(models.Model):
    """A photo uploaded against a claim. The original never leaves the server."""

    bounty = models.ForeignKey(Bounty, on_delete=models.PROTECT, related_name="submissions")
    claim = models.OneToOneField(Claim, on_delete=models.PROTECT, related_name="submission")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions"
    )
    upload_id = models.UUIDField(help_text="Chosen by the client: a retried upload reuses it.")
    photo = models.FileField(upload_to=submission_upload_path, max_length=255)
    photo_sha256 = models.CharField(max_length=64, db_index=True)
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveIntegerField()
    note = models.CharField(max_length=1_000, blank=True)
    reported_lat = models.FloatField(null=True, blank=True)
    reported_lon = models.FloatField(null=True, blank=True)
    reported_accuracy_m = models.FloatField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED
    )
    reasons = models.JSONField(default=list, blank=True)
    checks = models.JSONField(
        default=list, blank=True, help_text="Each check's name, status, score and reason."
    )
    facts = models.JSONField(
        default=dict, blank=True, help_text="What verification read: EXIF GPS, size, model..."
    )
    delivered_photo = models.FileField(
        upload_to="submissions/delivered/", blank=True, max_length=255
    )
    delivered_sha256 = models.CharField(max_length=64, blank=True)
    embedding = models.JSONField(
        null=True, blank=True, help_text="The vision model's image embedding (for forecasting)."
    )
    received_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    appealed_at = models.DateTimeField(null=True, blank=True)
    appeal_note = models.CharField(max_length=1_000, blank=True)
    verify_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Verification runs started (redeliveries and sweeps included)."
    )
    verify_error = models.CharField(
        max_length=500, blank=True, help_text="The last error that stopped a verification run."
    )
    review_by = models.CharField(
        max_length=8,
        choices=Reviewer.choices,
        blank=True,
        help_text="Who the submission waited for when it entered review (blank: operators).",
    )
    review_started_at = models.DateTimeField(null=True, blank=True)
    agent_verdict = models.CharField(
        max_length=16,
        choices=[(SubmissionStatus.ACCEPTED, "Accepted"), (SubmissionStatus.REJECTED, "Rejected")],
        blank=True,
        help_text="The bounty's agent's own decision, kept when operators overturn it on appeal.",
    )
    agent_decided_at = models.DateTimeField(null=True, blank=True)
    preview = models.FileField(
        upload_to="submissions/previews/",
        blank=True,
        max_length=255,
        help_text="What the reviewing agent sees: small, faces blurred, marked, no metadata.",
    )

    class Meta:
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["worker", "upload_id"], name="submission_upload_once"),
            models.CheckConstraint(
                condition=Q(reported_lat__isnull=True)
                | Q(reported_lat__gte=-90, reported_lat__lte=90),
                name="submission_reported_lat",
            ),
            models.CheckConstraint(
                condition=Q(reported_lon__isnull=True)
                | Q(reported_lon__gte=-180, reported_lon__lte=180),
                name="submission_reported_lon",
            ),
        ]
        indexes = [
            models.Index(fields=["bounty", "status"], name="submission_bounty_status"),
            models.Index(fields=["status", "received_at"], name="submission_status_received"),
            # An agent's last decisions (fair use), newest first.
            models.Index(
                fields=["-agent_decided_at"],
                condition=Q(agent_decided_at__isnull=False),
                name="submission_agent_decided",
            ),
        ]

    def __str__(self) -> str:
        return f"submission #{self.pk} on bounty #{self.bounty_id}"

    @property
    def review_waiting_since(self) -> datetime:
        """Since when the submission waits for a person: its appeal; else, waiting for the
        bounty's agent, since it entered that review; else its upload. The auto-approval
        deadline and the review queue's age both count from here."""
        if self.appealed_at is not None:
            return self.appealed_at
        if self.review_by == Reviewer.AGENT and self.review_started_at is not None:
            return self.review_started_at
        return self.received_at

    @property
    def awaits_agent(self) -> bool:
        """Whether the submission waits for its bounty's agent to accept or reject it (an
        appeal waits for operators, whoever reviewed it first)."""
        return (
            self.status == SubmissionStatus.NEEDS_REVIEW
            and self.review_by == Reviewer.AGENT
            and self.appealed_at is None
        )

    @property
    def reviewer(self) -> str | None:
        """Who a submission in review waits for: ``agent`` or ``operator``; None otherwise."""
        if self.status != SubmissionStatus.NEEDS_REVIEW:
            return None
        return Reviewer.AGENT if self.awaits_agent else Reviewer.OPERATOR

    @property
    def review_deadline(self) -> datetime | None:
        """When silence means acceptance (``auto_approve_after`` from ``review_waiting_since``,
        for photos no check failed); None outside review and for appeals, which wait for a
        person however long it takes."""
        if self.status != SubmissionStatus.NEEDS_REVIEW or self.appealed_at is not None:
            return None
        return self.review_waiting_since + self.bounty.auto_approve_after


# The submissions waiting for their bounty's agent (``Submission.awaits_agent``, in SQL).
AWAITING_AGENT = Q(
    status=SubmissionStatus.NEEDS_REVIEW, review_by=Reviewer.AGENT, appealed_at__isnull=True
)


class SubmissionEvent(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="events")
    old_status = models.CharField(max_length=16, blank=True)
    new_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=100)
    reason = models.CharField(max_length=1_000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"submission #{self.submission_id}: {self.old_status or '-'} -> {self.new_status}"


class Receipt(models.Model):
    """The signed provenance receipt of an accepted submission (see ``bounties.receipts``)."""

    submission = models.OneToOneField(Submission, on_delete=models.PROTECT, related_name="receipt")
    document = models.JSONField()
    signature = models.CharField(max_length=200)
    key_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"receipt of submission #{self.submission_id}"


class ReviewQueueItem(Submission):
    """Submissions waiting for a person (uncertain checks, new workers, appeals): the operators'
    review queue in the admin."""

    class Meta:
        proxy = True
        verbose_name = "submission to review"
        verbose_name_plural = "review queue"
