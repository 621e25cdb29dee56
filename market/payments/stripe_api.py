"""The few things every Stripe call here shares: is Stripe on, the key, which errors are
temporary. (Money is shown by ``market.core.money``.)"""

from typing import Any

import stripe
from django.conf import settings


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def request_options(*, idempotency_key: str | None = None) -> dict[str, Any]:
    """Per-call options: the key from settings (never the global), and our idempotency key."""
    options: dict[str, Any] = {"api_key": settings.STRIPE_SECRET_KEY}
    if idempotency_key is not None:
        options["idempotency_key"] = idempotency_key
    return options


def is_temporary(error: stripe.StripeError) -> bool:
    """Worth retrying with the same idempotency key: network trouble, rate limits, Stripe's own
    5xx and lock conflicts (409). Everything else (bad request, card declined, no permission) will
    fail the same way again."""
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    status = error.http_status or 0
    return status >= 500 or status == 409
