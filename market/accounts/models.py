from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    OPERATOR = "operator", "Operator"
    REQUESTER = "requester", "Requester"
    WORKER = "worker", "Worker"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.OPERATOR)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """A person: an operator (staff), a requester (owns and funds agents) or a worker."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.WORKER)
    is_test_worker = models.BooleanField(
        default=False,
        help_text="Sees only test-mode bounties (paid in test money), never live ones.",
    )
    awaiting_confirmation = models.BooleanField(
        default=False,
        help_text="Signed up on the website and not yet confirmed by the emailed link "
        "(inactive until then).",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            # Operators are staff; nobody else gets into the admin.
            models.CheckConstraint(
                condition=Q(role=Role.OPERATOR) | Q(is_staff=False),
                name="user_only_operators_staff",
            )
        ]

    def __str__(self) -> str:
        return self.email


class AgentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Agent(models.Model):
    """A program acting for a requester. It authenticates with API keys and spends its wallet."""

    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="agents")
    name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=AgentStatus.choices, default=AgentStatus.ACTIVE
    )
    is_test = models.BooleanField(
        default=False,
        help_text="Test mode: free test money, bounties seen only by test workers.",
    )
    currency = models.CharField(max_length=3, default="usd")
    daily_spend_cap_minor = models.BigIntegerField(
        help_text="The most this agent may commit to bounties per UTC day, in minor units."
    )
    review_cooling_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Until then its submissions go to operators: too many of its rejections "
        "were overturned on appeal (set by the bounties' fair-use rule).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="agent_unique_name_per_owner"),
            models.CheckConstraint(
                condition=Q(daily_spend_cap_minor__gte=0), name="agent_cap_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[a-z]{3}$"),
                name="agent_currency_iso_lower",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner})"

    @property
    def is_authenticated(self) -> bool:
        """DRF treats the authenticated principal as a user; an agent with a key is one."""
        return True

    @property
    def is_active(self) -> bool:
        return self.status == AgentStatus.ACTIVE


class Scope(models.TextChoices):
    BOUNTIES_WRITE = "bounties:write", "Post and cancel bounties"
    BOUNTIES_READ = "bounties:read", "Read bounties and submissions"
    WALLET_READ = "wallet:read", "Read the wallet"
    QUESTIONS_WRITE = "questions:write", "Ask and resolve questions"
    QUESTIONS_READ = "questions:read", "Read questions and forecasts"
    SUBMISSIONS_REVIEW = "submissions:review", "Review submissions: preview, accept, reject"


class APIKey(models.Model):
    """An agent's credential. Only the prefix and a hash are stored; the key is shown once."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.display_prefix}… ({self.agent.name})"

    @property
    def display_prefix(self) -> str:
        return f"sl_test_{self.prefix}" if self.agent.is_test else f"sl_{self.prefix}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
