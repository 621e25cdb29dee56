"""The API's JSON parser: bounded size and depth, storable text, finite numbers.

``json.loads`` recurses once per level of nesting: 100,000 brackets used to end in a
``RecursionError`` (500). Here a body is read up to ``API_MAX_JSON_BYTES`` (413 ``too_large``
past it), parsed with the recursion caught (400 ``too_deep``), then walked without recursion
by ``market.core.bounds.json_check``: nested at most ``MAX_JSON_DEPTH``, no NUL or lone
surrogate in any key or string (``invalid_text``), no ``NaN``, ``Infinity`` or ``1e400``
(``invalid_number``). Every error names the ``path`` of the offending value.
"""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from market.core.bounds import MAX_JSON_DEPTH, json_check
from market.core.errors import ApplicationError


class _NonFiniteConstant(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteConstant(name)


def json_loads_bounded(raw: bytes, *, encoding: str = "utf-8") -> Any:
    """The JSON document in ``raw``, within the bounds above, or an error with a stable code."""
    limit: int = settings.API_MAX_JSON_BYTES
    if len(raw) > limit:
        raise ApplicationError(
            "too_large",
            f"The request body is over {limit} bytes.",
            status=413,
            extra={"max_bytes": limit},
        )
    try:
        text = raw.decode(encoding)
        data = json.loads(text, parse_constant=_refuse_constant)
    except _NonFiniteConstant as error:
        raise ApplicationError(
            "invalid_number",
            f"{error.args[0]} is not a number JSON can carry.",
            extra={"path": "", "errors": {"non_field_errors": ["Numbers must be finite"]}},
        ) from error
    except RecursionError as error:
        raise ApplicationError(
            "too_deep",
            f"The request body is nested more than {MAX_JSON_DEPTH} deep.",
            extra={"path": "", "errors": {"non_field_errors": ["Nested too deep"]}},
        ) from error
    except (ValueError, LookupError) as error:
        # malformed JSON, bytes not in the charset, a charset that is no text encoding
        # (``charset=rot13``), an integer of 4,300+ digits
        raise ParseError(f"JSON parse error - {error}") from error
    return json_check(data, max_depth=MAX_JSON_DEPTH)


class BoundedJSONParser(JSONParser):
    """DRF's ``DEFAULT_PARSER_CLASSES`` entry for JSON (see the module docstring)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit: int = settings.API_MAX_JSON_BYTES
        raw = stream.read(limit + 1)  # never more than the limit (and one byte to know)
        return json_loads_bounded(raw, encoding=encoding)
