"""Reads for accounts and keys."""

import functools
import hmac
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

from market.accounts import keys
from market.accounts.models import Agent, APIKey

ModelT = TypeVar("ModelT", bound=Model)

_KEY_FIELDS = APIKey._meta.concrete_fields
_AGENT_FIELDS = Agent._meta.concrete_fields
# The key and its agent in one hand-written join: every API request runs it, and building it
# through the ORM (select_related) cost more than running it. Only names from the models are
# formatted in; the prefix is a parameter.
_KEY_LOOKUP_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join(
        [f'k."{field.column}"' for field in _KEY_FIELDS]
        + [f'a."{field.column}"' for field in _AGENT_FIELDS]
    )
    + f" FROM {APIKey._meta.db_table} AS k JOIN {Agent._meta.db_table} AS a"
    " ON a.id = k.agent_id WHERE k.prefix = %s"
)


@functools.cache
def _converters(
    model: type[Model], fields: Sequence[Any], alias: str
) -> dict[int, tuple[list[Any], Any]]:
    """The ORM's converters for ``fields`` by column index: they depend only on the fields and
    the database, so they are worked out once, not on every request."""
    compiler = model._default_manager.all().query.get_compiler(using=alias)
    return compiler.get_converters([field.get_col(model._meta.db_table) for field in fields])


def _from_row(model: type[ModelT], fields: Sequence[Any], values: Sequence[Any]) -> ModelT:
    """A model instance from its columns' values, converted as the ORM converts them (JSON on
    every database; dates and booleans on SQLite too)."""
    converted = list(values)
    for index, (converters, expression) in _converters(model, fields, connection.alias).items():
        for convert in converters:
            converted[index] = convert(converted[index], expression, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


def api_key_for(full_key: str) -> APIKey | None:
    """The stored key matching ``full_key`` (revoked ones included) with its agent, or None.
    Read afresh on every call: a revocation or suspension holds on the next request."""
    parsed = keys.parse(full_key)
    if parsed is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_KEY_LOOKUP_SQL, [parsed.prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key = _from_row(APIKey, _KEY_FIELDS, row[: len(_KEY_FIELDS)])
    api_key.agent = _from_row(Agent, _AGENT_FIELDS, row[len(_KEY_FIELDS) :])
    if api_key.agent.is_test != parsed.is_test:
        return None
    if not hmac.compare_digest(api_key.hashed_key, keys.hash_key(full_key)):
        return None
    return api_key
