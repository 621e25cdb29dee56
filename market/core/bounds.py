"""Bounds on untrusted text and JSON: the one owner of "what may be stored".

PostgreSQL cannot store a NUL in ``text`` or ``jsonb``, nor a lone UTF-16 surrogate (which
JSON can spell as ``"\\ud800"``), nor ``NaN``/``Infinity`` in ``jsonb``; each of those used to
reach the database and answer 500. The API's JSON parser (``market.core.parsers``), the
serializers and the services all call these functions, so an agent, the website and a
management command meet the same rules and the same stable codes:

- ``invalid_text``: a NUL or a lone surrogate in a string or a key;
- ``too_deep``: nested deeper than allowed;
- ``invalid_number``: a number that is not finite, or outside the document's range;
- ``validation_error``: a field over its size (characters, keys and items, bytes), as the
  serializers say it; ``too_large`` (413) is the whole request body's, in the parser.

Each error carries ``path`` (``metadata.a.1``) and ``errors`` keyed by the top-level field.
"""

import json
import math
import re
from typing import Any

from market.core.errors import ApplicationError

# The API's JSON bodies: deep enough for any document we define (metadata is 8), shallow
# enough that no walk or encoder recursion can overflow.
MAX_JSON_DEPTH = 32
# Integers PostgreSQL's bigint holds; the bound for numbers where no narrower one applies.
MAX_BIGINT = 2**63 - 1

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _error(code: str, path: str, message: str, *, status: int = 400) -> ApplicationError:
    field = path.split(".", 1)[0] or "non_field_errors"
    return ApplicationError(
        code,
        f"{message} (at {path or 'the top level'}).",
        status=status,
        extra={"path": path, "errors": {field: [message]}},
    )


def text_is_storable(value: str) -> bool:
    """No NUL and no lone surrogate: text PostgreSQL (and UTF-8) can hold."""
    return _UNSTORABLE.search(value) is None


def text_check(value: str, *, field: str, max_length: int | None = None) -> str:
    """``value`` if it is storable text of at most ``max_length`` characters; otherwise
    ``ApplicationError`` (``invalid_text`` / ``too_large``) naming ``field``."""
    if not text_is_storable(value):
        raise _error("invalid_text", field, "Text may not contain NUL or lone surrogates")
    if max_length is not None and len(value) > max_length:
        raise _error("validation_error", field, f"At most {max_length} characters")
    return value


def _join(path: str, key: object) -> str:
    """``path.key``, with the key shown safely: the error that names it must itself encode."""
    shown = _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", str(key))
    if len(shown) > 50:
        shown = shown[:50] + "..."
    return f"{path}.{shown}" if path else shown


def json_check(
    value: Any,
    *,
    field: str = "",
    max_depth: int = MAX_JSON_DEPTH,
    max_items: int | None = None,
    max_string: int | None = None,
    max_number: float = MAX_BIGINT,
    max_bytes: int | None = None,
) -> Any:
    """``value`` if it is plain JSON (dicts with string keys, lists, strings, finite numbers,
    booleans, null) within the bounds; otherwise ``ApplicationError`` with the path of the
    first offence. Iterative: any depth of input is refused without recursion.

    ``max_items`` counts every key and list item at every level; ``max_string`` bounds keys
    and strings; numbers must lie within +/-``max_number``; ``max_bytes`` bounds the UTF-8
    JSON encoding."""
    items = 0
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            depth += 1
            if depth > max_depth:
                raise _error("too_deep", path, f"Nested at most {max_depth} deep")
            children = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in children:
                items += 1
                if max_items is not None and items > max_items:
                    raise _error("validation_error", path, f"At most {max_items} keys and items")
                if isinstance(node, dict):
                    if not isinstance(key, str):
                        raise _error("validation_error", path, "Keys must be strings")
                    _check_string(key, _join(path, key), max_string)
                stack.append((child, _join(path, key), depth))
        elif isinstance(node, str):
            _check_string(node, path, max_string)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, (int, float)):
            if not (math.isfinite(node) and -max_number <= node <= max_number):
                raise _error(
                    "invalid_number", path, f"Numbers must be finite, within +/-{max_number:g}"
                )
        else:
            raise _error("validation_error", path, f"Not a JSON value: {type(node).__name__}")
    if max_bytes is not None:
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > max_bytes:
            raise _error("validation_error", field, f"At most {max_bytes} bytes of JSON")
    return value


def _check_string(value: str, path: str, max_string: int | None) -> None:
    if not text_is_storable(value):
        raise _error("invalid_text", path, "Text may not contain NUL or lone surrogates")
    if max_string is not None and len(value) > max_string:
        raise _error("validation_error", path, f"Strings of at most {max_string} characters")
