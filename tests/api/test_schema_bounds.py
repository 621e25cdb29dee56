"""Every input the OpenAPI schema describes states its bound: numbers a minimum and a maximum,
strings a maxLength, lists maxItems, free-form objects maxProperties. An agent (and the fuzz
suite) can read the limits instead of finding them by trial."""

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from market.core.api import MAX_PAGE_SIZE

# Strings whose format bounds them already (a parser refuses anything longer than a date).
BOUNDED_FORMATS = {"date-time", "date"}


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def _walk(
    schema: dict[str, Any], node: dict[str, Any], where: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema of ``node`` with its path, following references once each."""
    stack: list[tuple[dict[str, Any], str]] = [(node, where)]
    seen: set[int] = set()
    while stack:
        current, path = stack.pop()
        current = _resolve(schema, current)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield path, current
        for name, child in current.get("properties", {}).items():
            stack.append((child, f"{path}.{name}"))
        if isinstance(current.get("items"), dict):
            stack.append((current["items"], f"{path}[]"))
        if isinstance(current.get("additionalProperties"), dict):
            stack.append((current["additionalProperties"], f"{path}{{}}"))
        for combinator in ("allOf", "oneOf", "anyOf"):
            for index, child in enumerate(current.get(combinator, [])):
                stack.append((child, f"{path}<{combinator}{index}>"))


def _inputs(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every parameter and request body schema of every operation."""
    for url, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {url}"
            for parameter in operation.get("parameters", []):
                yield from _walk(
                    schema, parameter["schema"], f"{where} {parameter['in']}:{parameter['name']}"
                )
            for media, body in operation.get("requestBody", {}).get("content", {}).items():
                yield from _walk(schema, body["schema"], f"{where} body({media})")


def _unbounded(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    if "enum" in node or kind in (None, "boolean"):
        return None
    if kind in ("integer", "number"):
        has_min = "minimum" in node or "exclusiveMinimum" in node
        has_max = "maximum" in node or "exclusiveMaximum" in node
        return None if has_min and has_max else "a number without minimum and maximum"
    if kind == "string":
        if "maxLength" in node or node.get("format") in BOUNDED_FORMATS:
            return None
        return "a string without maxLength"
    if kind == "array":
        return None if "maxItems" in node else "a list without maxItems"
    if kind == "object":
        if node.get("properties") and node.get("additionalProperties") in (None, False):
            return None
        return None if "maxProperties" in node else "a free-form object without maxProperties"
    return None


def test_every_input_states_its_bound(schema: dict[str, Any]) -> None:
    offences = [
        f"{path}: {problem}"
        for path, node in _inputs(schema)
        if (problem := _unbounded(node)) is not None
    ]
    assert not offences, "\n".join(sorted(offences))


def test_the_walk_sees_the_inputs_it_checks(schema: dict[str, Any]) -> None:
    """The walk above must reach nested inputs, or it would pass by seeing nothing."""
    paths = {path for path, _ in _inputs(schema)}
    assert "POST /api/v1/bounties/ body(application/json).metadata" in paths
    assert (
        "POST /api/v1/questions/ body(application/json).evidence_template.window_seconds" in paths
    )
    assert "GET /api/v1/submissions/ query:cursor" in paths


def test_every_paginated_list_bounds_its_page_size(schema: dict[str, Any]) -> None:
    lists = 0
    for url, operations in schema["paths"].items():
        for operation in operations.values():
            names = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
            if "cursor" not in names:
                continue
            lists += 1
            assert names["page_size"]["schema"]["maximum"] == MAX_PAGE_SIZE, url
            assert names["cursor"]["schema"]["maxLength"], url
    assert lists >= 5  # bounties, submissions, questions, acquisitions, wallet transactions
