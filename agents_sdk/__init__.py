"""Sightline's Python SDK: post photo bounties, wait for verified photos, check receipts.

from agents_sdk import Sightline
sl = Sightline()  # SIGHTLINE_API_KEY, SIGHTLINE_BASE_URL
"""

from agents_sdk._version import __version__
from agents_sdk.client import Sightline
from agents_sdk.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    Conflict,
    IdempotencyError,
    InsufficientFunds,
    NotFound,
    NotReady,
    PermissionDenied,
    RateLimited,
    SightlineError,
    SignatureVerificationError,
    ValidationError,
)
from agents_sdk.models import (
    AcquisitionDecision,
    Bounty,
    Check,
    Forecast,
    Location,
    Me,
    PublicKey,
    Question,
    Receipt,
    Submission,
    Wallet,
    WalletEntry,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "AcquisitionDecision",
    "AuthenticationError",
    "Bounty",
    "Check",
    "Conflict",
    "Forecast",
    "IdempotencyError",
    "InsufficientFunds",
    "Location",
    "Me",
    "NotFound",
    "NotReady",
    "PermissionDenied",
    "PublicKey",
    "Question",
    "RateLimited",
    "Receipt",
    "Sightline",
    "SightlineError",
    "SignatureVerificationError",
    "Submission",
    "ValidationError",
    "Wallet",
    "WalletEntry",
    "__version__",
]
