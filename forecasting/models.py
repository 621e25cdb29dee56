"""Questions agents ask, the evidence the market gathers for them, and forecasts.

The link between a question and its bounties lives here: a bounty knows nothing of questions.
"""

from django.db import models
from django.db.models import F, Q

from bounties.models import Bounty, Submission
from market.accounts.models import Agent


class QuestionStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    ANNULLED = "annulled", "Annulled"


class Outcome(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"


class Question(models.Model):
    """A binary question about the world, owned by an agent, resolved once and for all."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="questions")
    title = models.CharField(max_length=300)
    resolution_criteria = models.TextField(max_length=5_000)
    closes_at = models.DateTimeField(help_text="Evidence captured after this does not count.")
    resolves_at = models.DateTimeField()
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    evidence_template = models.JSONField(
        default=dict, blank=True, help_text="The bounty to post to gather evidence."
    )
    stake_minor = models.BigIntegerField(
        default=0, help_text="What a right answer is worth to the owner (weighs acquisition)."
    )
    max_acquisition_spend_minor = models.BigIntegerField(
        default=0, help_text="The most the loop may spend on evidence bounties."
    )
    acquisition_spent_minor = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=QuestionStatus.choices, default=QuestionStatus.OPEN
    )
    outcome = models.CharField(max_length=3, choices=Outcome.choices, blank=True)
    resolution_source = models.CharField(max_length=1_000, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(resolves_at__gte=F("closes_at")), name="question_resolves_after_close"
            ),
            models.CheckConstraint(
                condition=Q(lat__isnull=True) | Q(lat__gte=-90, lat__lte=90), name="question_lat"
            ),
            models.CheckConstraint(
                condition=Q(lon__isnull=True) | Q(lon__gte=-180, lon__lte=180),
                name="question_lon",
            ),
            models.CheckConstraint(
                condition=Q(acquisition_spent_minor__lte=F("max_acquisition_spend_minor")),
                name="question_acquisition_within_budget",
            ),
            models.CheckConstraint(
                condition=(Q(status="resolved") & ~Q(outcome=""))
                | (~Q(status="resolved") & Q(outcome="")),
                name="question_outcome_iff_resolved",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class QuestionBounty(models.Model):
    """A bounty gathering evidence for a question (attached by its agent, or auto-posted)."""

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="links")
    bounty = models.OneToOneField(Bounty, on_delete=models.PROTECT, related_name="+")
    auto_posted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"bounty #{self.bounty_id} for question #{self.question_id}"


class EvidenceItem(models.Model):
    """An accepted submission attached to a question, with what the model reads of it."""

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="evidence")
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="+")
    embedding = models.JSONField(null=True, blank=True)
    verify_text = models.CharField(max_length=500)
    captured_at = models.DateTimeField(null=True, blank=True)
    distance_m = models.FloatField(null=True, blank=True)
    worker_reputation = models.FloatField(null=True, blank=True)
    embedding_model = models.CharField(
        max_length=100, blank=True, help_text="What made the embedding (a model reads one kind)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["question", "submission"], name="evidence_once_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"evidence #{self.pk} for question #{self.question_id}"


class Forecast(models.Model):
    """P(yes) for a question at a moment, by a model version, on so much evidence."""

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="forecasts")
    probability = models.FloatField()
    interval_low = models.FloatField()
    interval_high = models.FloatField()
    model_version = models.CharField(max_length=100)
    evidence_count = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-computed_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_low__gte=0, interval_low__lte=F("probability"))
                & Q(probability__lte=F("interval_high"), interval_high__lte=1),
                name="forecast_probability_in_interval",
            )
        ]

    def __str__(self) -> str:
        return f"{self.probability:.2f} for question #{self.question_id} ({self.model_version})"


class ModelVersionStatus(models.TextChoices):
    CHAMPION = "champion", "Champion (serving)"
    RETIRED = "retired", "Retired (a former champion)"
    REJECTED = "rejected", "Rejected (did not beat the champion)"
    FAILED = "failed", "Failed (training did not finish)"


class ModelVersion(models.Model):
    """One trained forecaster: how it was made, on what, and how it scored. At most one is the
    champion (the one serving forecasts); the others are kept for history and rollback."""

    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=16, choices=ModelVersionStatus.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
        help_text="The champion it was fine-tuned from (none: trained from scratch).",
    )  # fmt: skip
    artifact_path = models.CharField(max_length=500, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    model_config = models.JSONField(default=dict, blank=True)
    text_encoder = models.CharField(max_length=200, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)
    data_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the dataset.")
    data_summary = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Held-out scores: this model, champion, baselines."
    )
    training_curve = models.JSONField(default=list, blank=True)
    search = models.JSONField(default=list, blank=True, help_text="Hyperparameter trials.")
    decision = models.CharField(max_length=500, blank=True)
    device = models.CharField(max_length=20, blank=True)
    training_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="champion"), name="one_champion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class AcquisitionDecision(models.Model):
    """What the acquisition loop decided for a question, and why (the audit trail of the money
    it spent on the owner's behalf)."""

    class Action(models.TextChoices):
        POSTED = "posted", "Posted a bounty"
        SKIPPED = "skipped", "Skipped"

    question = models.ForeignKey(
        Question, on_delete=models.PROTECT, related_name="acquisition_decisions"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.CharField(max_length=300)
    probability = models.FloatField(null=True, blank=True)
    uncertainty = models.FloatField(null=True, blank=True)
    value_minor = models.BigIntegerField(null=True, blank=True)
    cost_minor = models.BigIntegerField(default=0)
    bounty = models.OneToOneField(
        Bounty, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    model_version = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.action} for question #{self.question_id}: {self.reason}"
