"""Hostile agent input gets a 400 problem with a stable code, never a 500: tampered cursors,
NUL and lone surrogates anywhere in JSON, deep or huge JSON, windows in year 1 or 9999, and
numbers no template or metadata can hold. Each bound is also held by the service."""

import json
import math
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bounties.models import Bounty
from bounties.services import bounty_create
from forecasting.models import Question
from forecasting.services import question_create
from market.core.bounds import MAX_JSON_DEPTH, json_check, text_check
from market.core.errors import ApplicationError
from market.ledger.services import wallet_credit_test_funds
from tests.bounties.helpers import LONDON, funded_bounty, spec, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

BOUNTIES = "/api/v1/bounties/"
QUESTIONS = "/api/v1/questions/"
EXAMPLES = hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A NUL, a lone high surrogate, a lone low surrogate: PostgreSQL can store none of them.
BAD_CHARACTERS = st.sampled_from(["\x00", "\ud800", "\udfff", "\udbff"])


def bounty_body(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    data: dict[str, Any] = {
        "title": "Queue outside the bakery",
        "verify": "a queue of people outside a bakery",
        "lat": LONDON[0],
        "lon": LONDON[1],
        "radius_m": 150,
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "price": 400,
        "currency": "usd",
        "quantity": 1,
        "metadata": {"store": 17},
    }
    data.update(overrides)
    return data


def question_body(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    data: dict[str, Any] = {
        "title": "Will the bakery queue exceed 10 people at 17:30?",
        "resolution_criteria": "Counted on the 17:30 photo.",
        "closes_at": (now + timedelta(hours=1)).isoformat(),
        "resolves_at": (now + timedelta(hours=2)).isoformat(),
        "lat": 51.5072,
        "lon": -0.1276,
    }
    data.update(overrides)
    return data


def post_raw(actor: Actor, path: str, raw: str) -> Any:
    return actor.client().generic("POST", path, raw, content_type="application/json")


@pytest.fixture
def funded(owner: Actor) -> Actor:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000_000, idempotency_key="f")
    return owner


# --- Cursors ----------------------------------------------------------------------------------


def cursor(position: str, **tokens: str) -> str:
    return b64encode(urlencode({"p": position, **tokens}).encode()).decode()


HOSTILE_CURSORS = [
    cursor("garbage"),
    cursor("99999-01-01T00:00:00+00:00"),
    cursor("9999-12-31T23:59:59-14:00"),
    cursor("0001-01-01T00:00:00+14:00"),
    cursor("2024-01-01T00:00:00\x00"),
    cursor("\x00"),
    cursor("\ud800".encode("utf-8", "surrogatepass").decode("latin-1")),
    cursor("2024-13-45T99:99:99Z"),
    cursor("1" * 5000),
    cursor("-99999999999999999999999"),
    cursor("2024-01-01T00:00:00Z", o="-5"),
    cursor("2024-01-01T00:00:00Z", r="nope"),
    "not base64 at all \x00",
    "%%%",
    "é",
    b64encode(b"\xff\xfe\x00").decode(),
]


@pytest.fixture
def paginated_paths(funded: Actor) -> list[str]:
    bounty = funded_bounty(funded.agent)
    submit(bounty, UserFactory())
    question = question_create(
        agent=funded.agent, title="Q", resolution_criteria="C",
        closes_at=timezone.now() + timedelta(hours=1),
        resolves_at=timezone.now() + timedelta(hours=2),
    )  # fmt: skip
    return [
        BOUNTIES,
        f"{BOUNTIES}?status=open",
        "/api/v1/submissions/",
        QUESTIONS,
        f"{QUESTIONS}{question.pk}/acquisitions",
        "/api/v1/wallet/transactions/",
    ]


@pytest.mark.parametrize("tampered", HOSTILE_CURSORS)
def test_it_refuses_a_tampered_cursor_on_every_paginated_list(
    funded: Actor, paginated_paths: list[str], tampered: str
) -> None:
    client = funded.client()
    for path in paginated_paths:
        response = client.get(path, {"cursor": tampered})
        if response.status_code == 200:  # a harmless cursor: one the paginator can use as is
            continue
        assert_problem(response, 400, "invalid_cursor")


@pytest.mark.parametrize(
    "tampered",
    [
        cursor("garbage"),
        cursor("99999-01-01T00:00:00+00:00"),
        cursor("9999-12-31T23:59:59-14:00"),
        cursor("\x00"),
        cursor("1" * 30),
    ],
)
def test_it_names_the_cursor_as_invalid(
    funded: Actor, paginated_paths: list[str], tampered: str
) -> None:
    for path in paginated_paths:
        assert_problem(funded.client().get(path, {"cursor": tampered}), 400, "invalid_cursor")


@EXAMPLES
@given(position=st.text(max_size=40), offset=st.text(max_size=6), reverse=st.text(max_size=3))
def test_no_cursor_position_gives_a_server_error(
    funded: Actor, paginated_paths: list[str], position: str, offset: str, reverse: str
) -> None:
    tampered = cursor(position, o=offset, r=reverse)
    client = funded.client()
    for path in paginated_paths:
        response = client.get(path, {"cursor": tampered})
        assert response.status_code in (200, 400), response.content
        if response.status_code == 400:
            assert response.json()["code"] == "invalid_cursor"


def test_a_real_cursor_still_pages(funded: Actor) -> None:
    for _ in range(3):
        funded_bounty(funded.agent)
    client = funded.client()
    first = client.get(BOUNTIES, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(ids) == 3 and len(set(ids)) == 3
    back = client.get(second["previous"]).json()
    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]


# --- Text -------------------------------------------------------------------------------------


def with_bad_character(draw: st.DrawFn) -> str:
    text = draw(st.text(max_size=10))
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:cut] + draw(BAD_CHARACTERS) + text[cut:]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid bounty body with one NUL or lone surrogate in a text field, or in a metadata key
    or value at any depth."""
    bad = with_bad_character(draw)
    where = draw(st.sampled_from(["title", "verify", "instructions", "key", "value", "deep"]))
    if where in ("title", "verify", "instructions"):
        return bounty_body(**{where: bad}), where
    if where == "key":
        return bounty_body(metadata={bad: 1}), "metadata"
    if where == "value":
        return bounty_body(metadata={"note": bad}), "metadata"
    return bounty_body(metadata={"a": [{"b": [bad]}]}), "metadata"


@EXAMPLES
@given(case=hostile_bodies())
def test_it_refuses_nul_and_lone_surrogates_anywhere_in_json(
    funded: Actor, case: tuple[dict[str, Any], str]
) -> None:
    body, _ = case
    # ensure_ascii writes a lone surrogate as the escape \ud800, as a hostile client would
    response = post_raw(funded, BOUNTIES, json.dumps(body))
    problem = assert_problem(response, 400, "invalid_text")
    assert problem["path"]
    assert not Bounty.objects.exists()


def test_it_names_the_path_of_bad_text(funded: Actor) -> None:
    response = post_raw(funded, BOUNTIES, json.dumps(bounty_body(metadata={"a": [1, "x\x00"]})))
    assert assert_problem(response, 400, "invalid_text")["path"] == "metadata.a.1"


@EXAMPLES
@given(bad=st.composite(with_bad_character)())
def test_questions_refuse_bad_text_in_the_template(funded: Actor, bad: str) -> None:
    template = {"verify": "a queue", "price": 100, "metadata": {bad: "x"}}
    response = post_raw(funded, QUESTIONS, json.dumps(question_body(evidence_template=template)))
    assert_problem(response, 400, "invalid_text")
    assert not Question.objects.exists()


def test_the_service_refuses_bad_text_for_every_caller(funded: Actor) -> None:
    for title in ("a\x00b", "\ud800"):
        with pytest.raises(ApplicationError) as refused:
            bounty_create(agent=funded.agent, spec=spec(title=title))
        assert refused.value.code == "invalid_text"
        assert "title" in refused.value.extra["errors"]
    with pytest.raises(ApplicationError) as refused:
        bounty_create(agent=funded.agent, spec=spec(metadata={"k\x00": 1}))
    assert refused.value.extra["errors"] == {
        "metadata": [refused.value.extra["errors"]["metadata"][0]]
    }
    assert not Bounty.objects.exists()


@given(text=st.text())
@EXAMPLES
def test_text_check_accepts_exactly_what_postgres_can_store(text: str) -> None:
    storable = "\x00" not in text and not any(0xD800 <= ord(char) <= 0xDFFF for char in text)
    if storable:
        assert text_check(text, field="f") == text
    else:
        with pytest.raises(ApplicationError):
            text_check(text, field="f")


# --- JSON shape -------------------------------------------------------------------------------


def test_json_nested_100_000_deep_is_refused(funded: Actor) -> None:
    depth = 100_000
    for raw in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        assert_problem(post_raw(funded, BOUNTIES, raw), 400, "too_deep")
    nested: Any = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        nested = [nested]
    assert_problem(
        post_raw(funded, BOUNTIES, json.dumps(bounty_body(metadata={"a": nested}))), 400, "too_deep"
    )
    assert not Bounty.objects.exists()


def test_a_body_over_the_size_limit_is_refused(funded: Actor) -> None:
    with override_settings(API_MAX_JSON_BYTES=10_000):
        raw = json.dumps(bounty_body(instructions="x" * 20_000))
        assert_problem(post_raw(funded, BOUNTIES, raw), 413, "too_large")
    assert not Bounty.objects.exists()


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(funded: Actor, number: str) -> None:
    raw = json.dumps(bounty_body(metadata={"x": 0})).replace('"x": 0', f'"x": {number}')
    assert_problem(post_raw(funded, BOUNTIES, raw), 400, "invalid_number")
    raw = json.dumps(bounty_body()).replace('"lat": 51.5072', f'"lat": {number}')
    assert_problem(post_raw(funded, BOUNTIES, raw), 400, "invalid_number")
    assert not Bounty.objects.exists()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


@given(value=st.dictionaries(st.text(max_size=10), json_values, max_size=6))
@EXAMPLES
def test_metadata_is_stored_whole_or_refused_with_a_reason(funded: Actor, value: Any) -> None:
    try:
        bounty = bounty_create(agent=funded.agent, spec=spec(metadata=value, quantity=1))
    except ApplicationError as refused:
        assert refused.code in {
            "invalid_text",
            "too_deep",
            "too_large",
            "invalid_number",
            "validation_error",
        }
        assert "metadata" in refused.extra["errors"]
        return
    bounty.refresh_from_db()
    assert bounty.metadata == value


def test_metadata_numbers_are_bounded(funded: Actor) -> None:
    for number in (1e16, -1e16, 10**16, math.inf):
        with pytest.raises(ApplicationError) as refused:
            bounty_create(agent=funded.agent, spec=spec(metadata={"n": number}))
        assert "metadata" in refused.value.extra["errors"]
    bounty_create(agent=funded.agent, spec=spec(metadata={"n": 10**15, "f": -1e15}))


def test_json_check_walks_without_recursion() -> None:
    nested: Any = "x"
    for _ in range(50_000):
        nested = {"k": nested}
    with pytest.raises(ApplicationError) as refused:
        json_check(nested, field="metadata", max_depth=8)
    assert refused.value.code == "too_deep"


# --- Windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"starts_at": "0001-01-01T00:00:00Z"},
        {"ends_at": "9999-12-31T23:59:59Z"},
        {"ends_at": "9999-12-31T23:59:59-14:00"},
        {"starts_at": "0001-01-01T00:00:00+14:00"},
    ],
)
def test_windows_in_year_1_or_9999_are_refused(funded: Actor, overrides: dict[str, str]) -> None:
    response = post_raw(funded, BOUNTIES, json.dumps(bounty_body(**overrides)))
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) & {"starts_at", "ends_at"}
    assert not Bounty.objects.exists()


@given(
    starts_at=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3000)),
)
@EXAMPLES
def test_the_service_holds_windows_within_the_bounds(
    funded: Actor, starts_at: datetime, length: timedelta
) -> None:
    try:
        ends_at = starts_at + length
    except OverflowError:
        return
    now = timezone.now()
    try:
        bounty = bounty_create(
            agent=funded.agent, spec=spec(starts_at=starts_at, ends_at=ends_at, quantity=1)
        )
    except ApplicationError as refused:
        assert set(refused.extra["errors"]) <= {"starts_at", "ends_at"}
        return
    assert bounty.starts_at >= now - settings.BOUNTY_MAX_START_AGE - timedelta(seconds=5)
    assert bounty.ends_at <= timezone.now() + settings.BOUNTY_MAX_HORIZON


def test_a_window_at_the_bounds_is_accepted(funded: Actor) -> None:
    now = timezone.now()
    bounty = bounty_create(
        agent=funded.agent,
        spec=spec(
            starts_at=now - settings.BOUNTY_MAX_START_AGE + timedelta(minutes=1),
            ends_at=now + settings.BOUNTY_MAX_HORIZON - timedelta(minutes=1),
        ),
    )
    assert bounty.pk


# --- Question templates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_template",
    [
        '{"verify": "a queue", "price": 100, "window_seconds": 1e20}',
        '{"verify": "a queue", "price": 100, "claim_ttl_seconds": 1e20}',
        '{"verify": "a queue", "price": 100, "auto_approve_after_seconds": 1e20}',
        '{"verify": "a queue", "price": 100, "lat": 1e400}',
        '{"verify": "a queue", "price": 100, "lon": -1e400}',
        '{"verify": "a queue", "price": 1e20}',
        '{"verify": "a queue", "price": 100, "quantity": 1e20}',
        '{"verify": "a queue", "price": 100, "radius_m": 1e20}',
        '{"verify": "a queue", "price": 100, "max_per_worker": 1e20}',
        '{"verify": "a queue", "price": 100, "window_seconds": -1}',
        '{"verify": "a queue", "price": 100, "metadata": {"n": 1e300}}',
    ],
)
def test_templates_with_numbers_out_of_bounds_are_refused(funded: Actor, raw_template: str) -> None:
    raw = json.dumps(question_body())[:-1] + f', "evidence_template": {raw_template}}}'
    response = post_raw(funded, QUESTIONS, raw)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"validation_error", "invalid_number"}
    assert not Question.objects.exists()


@given(
    key=st.sampled_from(
        [
            "window_seconds",
            "claim_ttl_seconds",
            "auto_approve_after_seconds",
            "lat",
            "lon",
            "radius_m",
            "price",
            "quantity",
            "max_per_worker",
        ]
    ),
    number=st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)),
)
@EXAMPLES
def test_the_service_bounds_every_template_number(funded: Actor, key: str, number: float) -> None:
    template = {"verify": "a queue", "price": 100, key: number}
    now = timezone.now()
    try:
        question_create(
            agent=funded.agent, title="Q", resolution_criteria="C",
            closes_at=now + timedelta(hours=1), resolves_at=now + timedelta(hours=2),
            lat=51.5, lon=-0.1, evidence_template=template,
        )  # fmt: skip
    except ApplicationError as refused:
        assert "evidence_template" in refused.extra["errors"]
    else:
        assert math.isfinite(number) and abs(number) <= 10**9


# --- Headers ----------------------------------------------------------------------------------


LATIN_1 = st.text(st.characters(max_codepoint=255, exclude_characters="\x00"), max_size=10)


@EXAMPLES
@given(before=LATIN_1, after=LATIN_1)
def test_an_idempotency_key_with_a_nul_is_refused(funded: Actor, before: str, after: str) -> None:
    key = f"{before}\x00{after}"  # WSGI headers are latin-1: a surrogate cannot arrive in one
    response = funded.client().post(
        BOUNTIES, bounty_body(), format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert_problem(response, 400, "invalid_idempotency_key")
    assert not Bounty.objects.exists()


def test_a_body_past_djangos_own_limit_gets_the_same_answer(funded: Actor) -> None:
    raw = json.dumps(bounty_body(instructions="x" * 3_000_000))
    client = funded.client()
    assert_problem(post_raw(funded, BOUNTIES, raw), 413, "too_large")
    with_key = client.generic(
        "POST", BOUNTIES, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"
    )
    assert_problem(with_key, 413, "too_large")
    assert not Bounty.objects.exists()


@pytest.mark.parametrize("charset", ["rot13", "base64", "utf-16", "hex", "zlib"])
def test_a_body_in_a_strange_charset_is_malformed_not_a_crash(funded: Actor, charset: str) -> None:
    response = funded.client().generic(
        "POST",
        BOUNTIES,
        json.dumps(bounty_body()),
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code in (400, 415), response.content
    assert not Bounty.objects.exists()
