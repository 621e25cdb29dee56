"""Reads for accounts and keys."""

import hmac

from market.accounts import keys
from market.accounts.models import APIKey


def api_key_for(full_key: str) -> APIKey | None:
    """The stored key matching ``full_key`` (revoked ones included), or None."""
    parsed = keys.parse(full_key)
    if parsed is None:
        return None
    api_key = APIKey.objects.select_related("agent").filter(prefix=parsed.prefix).first()
    if api_key is None or api_key.agent.is_test != parsed.is_test:
        return None
    if not hmac.compare_digest(api_key.hashed_key, keys.hash_key(full_key)):
        return None
    return api_key
