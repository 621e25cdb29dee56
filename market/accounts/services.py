"""Writes for users, agents and API keys."""

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

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


class SignupTokenGenerator(PasswordResetTokenGenerator):
    """Links that confirm a sign-up: valid for ``PASSWORD_RESET_TIMEOUT``, and dead once the
    account is confirmed or its password changes (a newer sign-up for the address)."""

    key_salt = "market.accounts.services.SignupTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.awaiting_confirmation}"


signup_tokens = SignupTokenGenerator()
SIGNUP_ROLES = (Role.WORKER, Role.REQUESTER)


def _mail(*, to: str, template: str, context: dict[str, Any]) -> None:
    subject = render_to_string(f"registration/{template}_subject.txt", context)
    body = render_to_string(f"registration/{template}_email.txt", context)
    send_mail(" ".join(subject.split()), body, None, [to])


def user_sign_up(*, email: str, role: Role, password: str) -> None:
    """Sign ``email`` up, answering nothing: the caller cannot tell a new address from a taken
    one, so neither can whoever is typing addresses into the form.

    A new address gets an inactive account and a link that confirms it; an address with an
    unconfirmed account gets the new password and role and a fresh link (the old one dies); any
    other account (active, or deactivated by an operator) gets a notice that someone tried, and
    nothing changes. The password is hashed on every path, so the time taken does not tell
    either."""
    email = _clean_email(email)
    if role not in SIGNUP_ROLES:
        raise ApplicationError(
            "invalid_role", "Choose worker or requester", extra={"field": "role"}
        )
    password_hash = make_password(password)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, None, role=role, is_active=False, awaiting_confirmation=True
            )
        if user.awaiting_confirmation:
            user.password, user.role = password_hash, role
            user.save(update_fields=["password", "role"])
    if user.awaiting_confirmation:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        path = reverse(
            "signup-confirm", kwargs={"uidb64": uid, "token": signup_tokens.make_token(user)}
        )
        _mail(
            to=email,
            template="signup_confirm",
            context={"email": email, "link": settings.SITE_URL + path},
        )
    else:
        context = {
            "email": email,
            "login_link": settings.SITE_URL + reverse("login"),
            "reset_link": settings.SITE_URL + reverse("password_reset"),
        }
        _mail(to=email, template="signup_taken", context=context)


def user_for_signup_link(*, uidb64: str, token: str) -> User | None:
    """The unconfirmed account a sign-up link names, or None when the link is not (or no
    longer) valid."""
    try:
        user_id = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=user_id, awaiting_confirmation=True).first()
    if user is None or not signup_tokens.check_token(user, token):
        return None
    return user


@transaction.atomic
def user_confirm_signup(*, uidb64: str, token: str) -> User | None:
    """Activate the account a valid sign-up link names (once: the link dies with it); None when
    the link is not valid."""
    user = user_for_signup_link(uidb64=uidb64, token=token)
    if user is None:
        return None
    activated = User.objects.filter(pk=user.pk, awaiting_confirmation=True).update(
        is_active=True, awaiting_confirmation=False
    )
    if not activated:  # confirmed meanwhile by another click
        return None
    user.is_active, user.awaiting_confirmation = True, False
    return user


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
