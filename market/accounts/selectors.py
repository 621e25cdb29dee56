"""Reads for accounts and keys."""

import hmac
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

from market.accounts import keys
from market.accounts.models import Agent, APIKey

ModelT = TypeVar("ModelT", bound=Model)

_KEY_FIELDS = APIKey._meta.concrete_fields
_AGENT_FIELDS = Agent._meta.concrete_fields
# The key and its agent in one hand-written join, on PostgreSQL: every API request runs it.
# Through the ORM (select_related, .get) the lookup cost 0.51 ms of CPU against 0.18 ms; with
# that and Django's timestamp loader (see bounties/selectors.py), bench/api.py's nearest list
# made 0.44 and 0.68 of the bare view's throughput in two runs (goal: at least 0.5), against
# 0.83 and 0.84 with both (10k bounties, a loaded 2-core box, 2026-12-01). Only names from the
# models are formatted in; the prefix is a parameter.
_KEY_LOOKUP_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join(
        [f'k."{field.column}"' for field in _KEY_FIELDS]
        + [f'a."{field.column}"' for field in _AGENT_FIELDS]
    )
    + f" FROM {APIKey._meta.db_table} AS k JOIN {Agent._meta.db_table} AS a"
    " ON a.id = k.agent_id WHERE k.prefix = %s"
)


def _field_converters(fields: Sequence[Any]) -> list[Callable[..., Any] | None]:
    """Each field's ``from_db_value`` (JSON's, on these models), or None: on PostgreSQL that is
    every conversion the ORM applies to these columns."""
    return [getattr(field, "from_db_value", None) for field in fields]


_KEY_CONVERTERS = _field_converters(_KEY_FIELDS)
_AGENT_CONVERTERS = _field_converters(_AGENT_FIELDS)


def _from_row(
    model: type[ModelT],
    fields: Sequence[Any],
    converters: Sequence[Callable[..., Any] | None],
    values: Sequence[Any],
) -> ModelT:
    converted = [
        value if convert is None else convert(value, None, connection)
        for convert, value in zip(converters, values, strict=True)
    ]
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


def _key_with_agent(prefix: str) -> APIKey | None:
    if connection.vendor != "postgresql":  # SQLite (development): its converters are the ORM's
        return APIKey.objects.select_related("agent").filter(prefix=prefix).first()
    with connection.cursor() as cursor:
        cursor.execute(_KEY_LOOKUP_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_KEY_FIELDS)
    api_key = _from_row(APIKey, _KEY_FIELDS, _KEY_CONVERTERS, row[:split])
    api_key.agent = _from_row(Agent, _AGENT_FIELDS, _AGENT_CONVERTERS, row[split:])
    return api_key


def api_key_for(full_key: str) -> APIKey | None:
    """The stored key matching ``full_key`` (revoked ones included) with its agent, or None.
    Read afresh on every call: a revocation or suspension holds on the next request."""
    parsed = keys.parse(full_key)
    if parsed is None:
        return None
    api_key = _key_with_agent(parsed.prefix)
    if api_key is None or api_key.agent.is_test != parsed.is_test:
        return None
    if not hmac.compare_digest(api_key.hashed_key, keys.hash_key(full_key)):
        return None
    return api_key
