"""Limits on the account pages that django-axes does not cover: sign-up and password reset.

Log-in failures are axes' (settings: ``AXES_*``); these count sign-up and reset requests per
client address and the mails they send per email address, in the same shared cache, as fixed
hourly windows (one cache increment per request, like the API throttle).
"""

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 3600


def normalize_email(raw: object) -> str:
    """The form of an email address that counters and lookups use: trimmed, lower case."""
    return str(raw or "").strip().lower()[:254]


def axes_username(request: Any, credentials: dict[str, Any] | None) -> str:
    """``AXES_USERNAME_CALLABLE``: the email being tried, normalised, so "A@x.com " and "a@x.com"
    share one counter. The login form posts it as ``username``; Django's ``authenticate``
    passes it in the credentials under the same name."""
    if credentials and credentials.get("username") is not None:
        return normalize_email(credentials["username"])
    data = getattr(request, "data", None) or getattr(request, "POST", {})
    return normalize_email(data.get("username"))


def _spend(counter: str) -> int:
    """Count one request against ``counter`` in the current window; the count so far."""
    key = f"auth-throttle:{counter}"
    if cache.add(key, 1, timeout=WINDOW_SECONDS):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        return 1


def _digest(value: str) -> str:
    # Keys carry no personal data and have a bounded length, whatever was typed.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def address_allowed(*, action: str, address: str) -> bool:
    """Count one ``action`` ("signup", "reset") from ``address``; False past the hourly limit."""
    count = _spend(f"{action}:ip:{_digest(address)}")
    return count <= settings.AUTH_ATTEMPTS_PER_ADDRESS_PER_HOUR


def mail_allowed(*, email: str) -> bool:
    """Count one account mail (confirmation, notice or reset link) to ``email``; False past the
    hourly limit, so nobody can flood a mailbox through our forms."""
    count = _spend(f"mail:{_digest(normalize_email(email))}")
    return count <= settings.AUTH_MAILS_PER_EMAIL_PER_HOUR
