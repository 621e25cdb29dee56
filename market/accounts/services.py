"""Writes for users, agents and API keys."""

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from market.accounts import keys
from market.accounts.models import Agent, AgentStatus, APIKey, Role, Scope, User
from market.core.errors import ApplicationError

logger = logging.getLogger(__name__)

DEFAULT_DAILY_SPEND_CAP_MINOR = 100_000  # $1,000.00 a day unless the owner says otherwise
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key per minute


def _clean_email(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "invalid_email",
            f"{email!r} is not a valid email address",
            extra={"field": "email"},
        ) from exc
    return email


@transaction.atomic
def user_create(
    *, email: str, role: Role, password: str | None = None, display_name: str = ""
) -> User:
    """A new user. Operators are staff (the admin is theirs); nobody else is."""
    email = _clean_email(email)
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "email_taken", "An account with this email exists", extra={"field": "email"}
        )
    is_operator = role == Role.OPERATOR
    return User.objects.create_user(
        email,
        password,
        role=role,
        display_name=display_name,
        is_staff=is_operator,
        is_superuser=is_operator,
    )


@transaction.atomic
def requester_get_or_create(*, email: str) -> tuple[User, bool]:
    """The requester with this email, created without a password when new."""
    email = _clean_email(email)
    user = User.objects.select_for_update().filter(email=email).first()
    if user is not None:
        if user.role != Role.REQUESTER:
            raise ApplicationError("not_a_requester", f"{email} is a {user.role}, not a requester")
        return user, False
    return user_create(email=email, role=Role.REQUESTER), True


@transaction.atomic
def agent_create(
    *,
    owner: User,
    name: str,
    is_test: bool = False,
    currency: str = "usd",
    daily_spend_cap_minor: int = DEFAULT_DAILY_SPEND_CAP_MINOR,
) -> Agent:
    """A new active agent for a requester."""
    name = name.strip()
    if owner.role != Role.REQUESTER:
        raise ApplicationError("not_a_requester", "Only requesters own agents")
    if not name:
        raise ApplicationError("invalid_name", "An agent needs a name", extra={"field": "name"})
    if daily_spend_cap_minor < 0:
        raise ApplicationError(
            "invalid_cap",
            "The daily cap cannot be negative",
            extra={"field": "daily_spend_cap"},
        )
    if Agent.objects.filter(owner=owner, name=name).exists():
        raise ApplicationError(
            "agent_name_taken",
            f"You already have an agent named {name!r}",
            extra={"field": "name"},
        )
    return Agent.objects.create(
        owner=owner,
        name=name,
        is_test=is_test,
        currency=currency.lower(),
        daily_spend_cap_minor=daily_spend_cap_minor,
    )


@transaction.atomic
def agent_set_status(*, agent: Agent, status: AgentStatus) -> Agent:
    """Suspend or reactivate an agent; its keys stop (or start) working on the next request."""
    Agent.objects.filter(pk=agent.pk).update(status=status)
    agent.status = status
    return agent


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ApplicationError(
            "invalid_scope",
            f"Unknown scopes: {', '.join(unknown)}",
            extra={"field": "scopes"},
        )
    if not scopes:
        raise ApplicationError("invalid_scope", "A key needs a scope", extra={"field": "scopes"})
    return scopes


@transaction.atomic
def api_key_create(
    *, agent: Agent, name: str = "", scopes: Iterable[str] | None = None
) -> tuple[APIKey, str]:
    """A new key for ``agent``: the row, and the full key, which is never available again."""
    prefix, full_key = keys.generate(is_test=agent.is_test)
    api_key = APIKey.objects.create(
        agent=agent,
        name=name,
        prefix=prefix,
        hashed_key=keys.hash_key(full_key),
        scopes=_validate_scopes(Scope.values if scopes is None else scopes),
    )
    logger.info("api key %s created for agent %s", api_key.display_prefix, agent.pk)
    return api_key, full_key


def demo_api_key(*, agent: Agent) -> str:
    """A key derived from SECRET_KEY, so ``seed_demo`` can print the same key on every run.

    Development only: anyone with SECRET_KEY can compute it.
    """
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"demo-agent-{agent.pk}".encode(), hashlib.sha256
    ).digest()
    number = int.from_bytes(digest, "big")
    token = keys.base62(number, keys.PREFIX_LENGTH + keys.SECRET_LENGTH)
    prefix = token[: keys.PREFIX_LENGTH]
    secret = token[keys.PREFIX_LENGTH : keys.PREFIX_LENGTH + keys.SECRET_LENGTH]
    return keys.compose(prefix=prefix, secret=secret, is_test=agent.is_test)


@transaction.atomic
def api_key_ensure_demo(*, agent: Agent) -> str:
    """The deterministic demo key for ``agent``, stored (once) with every scope."""
    if settings.PRODUCTION:
        raise ApplicationError("not_in_production", "Demo keys do not exist in production")
    full_key = demo_api_key(agent=agent)
    parsed = keys.parse(full_key)
    assert parsed is not None
    APIKey.objects.get_or_create(
        prefix=parsed.prefix,
        defaults={
            "agent": agent,
            "name": "demo",
            "hashed_key": keys.hash_key(full_key),
            "scopes": list(Scope.values),
        },
    )
    return full_key


@transaction.atomic
def api_key_revoke(*, api_key: APIKey) -> APIKey:
    """Revoke a key, effective on its next request. Revoking twice keeps the first time."""
    APIKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    logger.info("api key %s revoked", api_key.display_prefix)
    return api_key


def api_key_record_use(*, api_key: APIKey) -> None:
    """Record the key's last use, writing at most once a minute (compare-and-swap)."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    APIKey.objects.filter(pk=api_key.pk, last_used_at=api_key.last_used_at).update(last_used_at=now)
    api_key.last_used_at = now
