"""One owner per rule (#14): money formatting, state transitions, the operator actor, open slots
and check names are each written once. Each rule has a test that fails when a second copy
appears (a scan of the source) or when the copies that must exist (SQL beside Python) disagree.
"""

import ast
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounties.models import (
    CLAIM_UPLOAD_GRACE,
    Bounty,
    Claim,
    ClaimStatus,
    Submission,
    SubmissionStatus,
)
from bounties.selectors import bounty_rows_near, open_slots_by_bounty
from bounties.services import claim_create, claim_release, open_slots
from bounties.services.fulfilment import submission_transition
from market.accounts.actors import operator_actor
from market.core.errors import ApplicationError
from market.core.money import format_money, major_units, minor_unit_exponent
from market.payments.selectors import Total
from tests.bounties.helpers import LONDON, funded_bounty, submit
from tests.conftest import Actor, make_actor
from tests.factories import OperatorFactory, UserFactory
from tests.fuzz import count_case, fuzz_examples
from verification.checks import CheckName
from web.templatetags.web import money

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bounties", "forecasting", "market", "verification", "web")


def _sources() -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the root, syntax tree) of every production module but migrations."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), filename=str(path))


def _found(describe: Callable[[ast.AST], str | None], *, owner: str = "") -> list[str]:
    """``file:line: what`` for every node of every module but ``owner`` that ``describe``
    describes (returns text for)."""
    return [
        f"{name}:{getattr(node, 'lineno', 0)}: {found}"
        for name, tree in _sources()
        if name != owner
        for node in ast.walk(tree)
        if (found := describe(node)) is not None
    ]


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


# --- Money: one exponent table, one formatter ------------------------------------------------


@pytest.mark.parametrize(
    ("amount_minor", "currency", "shown"),
    [
        (-123456, "usd", "-1,234.56 USD"),
        (440, "eur", "4.40 EUR"),
        (5, "gbp", "0.05 GBP"),
        (1234, "jpy", "1,234 JPY"),
        (1234, "kwd", "1.234 KWD"),
        (500, "isk", "5.00 ISK"),  # two-decimal in Stripe's API, zero in CLDR: Stripe's counts
    ],
)
def test_it_formats_minor_units_with_stripes_exponent(amount_minor, currency, shown):
    assert format_money(amount_minor, currency) == shown


@settings(max_examples=fuzz_examples(50), deadline=None)
@given(
    amount_minor=st.integers(-(10**15), 10**15),
    currency=st.sampled_from(["usd", "eur", "gbp", "jpy", "krw", "kwd", "bhd", "isk", "huf"]),
)
def test_what_it_shows_reads_back_as_the_same_minor_units(amount_minor, currency):
    count_case("money")
    shown = format_money(amount_minor, currency)
    number, code = shown.rsplit(" ", 1)
    assert code == currency.upper()
    digits = minor_unit_exponent(currency)
    assert len(number.partition(".")[2]) == digits
    assert Decimal(number.replace(",", "")) == major_units(amount_minor, currency)
    assert int(Decimal(number.replace(",", "")).scaleb(digits)) == amount_minor
    # every place that shows money shows the same string
    assert money(amount_minor, currency) == shown
    assert Total(label="x", currency=currency, count=1, amount_minor=amount_minor).amount == shown


def test_no_other_module_keeps_a_currency_table_or_formats_minor_units():
    # "{<amount>_minor} {<currency>}": raw minor units shown as if they were an amount
    raw_amount = re.compile(r"\{[^{}]*_minor[^{}]*\}\s*\{[^{}]*currency")

    def copy(node: ast.AST) -> str | None:
        if isinstance(node, ast.JoinedStr) and raw_amount.search(ast.unparse(node)):
            return ast.unparse(node)
        if (_string(node) or "").lower() in {"jpy", "krw", "kwd"}:  # an exponent table's
            return repr(_string(node))
        if isinstance(node, ast.FunctionDef) and re.search(r"format_(money|minor)", node.name):
            return f"def {node.name}"
        return None

    assert _found(copy, owner="market/core/money.py") == []


def test_the_spending_cap_error_shows_money_not_minor_units(db):
    actor = make_actor(daily_spend_cap_minor=1_000)
    with pytest.raises(ApplicationError) as refused:
        funded_bounty(actor.agent, price_minor=400, quantity=5)  # 5 x (4.00 + 0.40)
    assert refused.value.code == "spending_cap_exceeded"
    assert refused.value.message == (
        "This would commit 22.00 USD today; the agent's daily cap is 10.00 USD."
    )


# --- Transitions: one check ------------------------------------------------------------------


def test_every_transition_mapping_is_read_only_through_transition_check():
    def mapping(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Name) and node.id.endswith("_TRANSITIONS")

    def reader(node: ast.AST) -> str | None:
        # mapping[state], state in mapping, mapping.get(...): a check written again
        if isinstance(node, ast.Subscript | ast.Attribute) and mapping(node.value):
            return ast.unparse(node)
        if isinstance(node, ast.Compare) and any(map(mapping, node.comparators)):
            return ast.unparse(node)
        return None

    assert _found(reader, owner="market/core/states.py") == []


def test_a_refused_move_reads_the_same_for_claims_and_submissions(owner: Actor):
    bounty = funded_bounty(owner.agent)
    submission = submit(bounty, UserFactory())
    with pytest.raises(ApplicationError) as claim_refused:
        claim_release(claim=submission.claim, worker=submission.worker)
    submission_transition(submission, SubmissionStatus.ACCEPTED, actor="test")
    with pytest.raises(ApplicationError) as submission_refused:
        submission_transition(submission, SubmissionStatus.REJECTED, actor="test")
    assert (claim_refused.value.code, claim_refused.value.status) == ("invalid_transition", 409)
    assert claim_refused.value.message == (
        f"Claim #{submission.claim.pk} cannot go from submitted to released"
    )
    assert (submission_refused.value.code, submission_refused.value.status) == (
        "invalid_transition",
        409,
    )
    assert submission_refused.value.message == (
        f"Submission #{submission.pk} cannot go from accepted to rejected"
    )


# --- The operator actor: one spelling --------------------------------------------------------


def test_operators_are_recorded_one_way(db):
    operator = OperatorFactory()
    assert operator_actor(operator) == f"operator:{operator.email}"


def test_no_module_spells_the_operator_actor_itself():
    def spelling(node: ast.AST) -> str | None:
        text = _string(node) or ""
        if text.startswith("operator:") and not re.search(r"\s", text):  # not a help text
            return repr(text)
        if isinstance(node, ast.keyword) and node.arg == "actor":
            value = ast.unparse(node.value)
            if "request.user" in value and value != "operator_actor(request.user)":
                return f"actor={value}"
        return None

    assert _found(spelling, owner="market/accounts/actors.py") == []


# --- Open slots: one rule in Python, its SQL twin compared -----------------------------------

CLAIM_STATES: dict[str, tuple[str, timedelta]] = {
    "holding": (ClaimStatus.ACTIVE, timedelta(minutes=20)),
    "in_grace": (ClaimStatus.ACTIVE, -CLAIM_UPLOAD_GRACE / 2),  # the hold ended, the grace not
    "lapsed": (ClaimStatus.ACTIVE, -CLAIM_UPLOAD_GRACE - timedelta(seconds=5)),
    "released": (ClaimStatus.RELEASED, timedelta(minutes=20)),
    "expired": (ClaimStatus.EXPIRED, -timedelta(hours=1)),
}


def _bounty_in_state(
    actor: Actor, quantity: int, accepted: int, claims: list[str], submissions: list[str]
) -> Bounty:
    """A bounty with these claims and submissions, written directly (a read is under test)."""
    now = timezone.now()
    bounty = Bounty.objects.create(
        agent=actor.agent, title="slots", verify="a door", lat=LONDON[0], lon=LONDON[1],
        radius_m=100, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        price_minor=400, fee_minor=40, currency="usd", quantity=quantity,
        accepted_count=min(accepted, quantity),
    )  # fmt: skip
    for state in claims:
        status, expires_in = CLAIM_STATES[state]
        Claim.objects.create(
            bounty=bounty, worker=UserFactory(), status=status, expires_at=now + expires_in
        )
    for status in submissions:
        worker = UserFactory()
        claim = Claim.objects.create(
            bounty=bounty, worker=worker, status=ClaimStatus.SUBMITTED, expires_at=now
        )
        Submission.objects.create(
            bounty=bounty, claim=claim, worker=worker, upload_id=uuid.uuid4(),
            photo="submissions/none.jpg", size_bytes=1, status=status,
        )  # fmt: skip
    return bounty


@settings(
    max_examples=fuzz_examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    quantity=st.integers(1, 6),
    accepted=st.integers(0, 6),
    claims=st.lists(st.sampled_from(sorted(CLAIM_STATES)), max_size=5),
    submissions=st.lists(st.sampled_from(list(SubmissionStatus)), max_size=5),
)
def test_the_nearest_searchs_sql_counts_open_slots_as_the_python_owner_does(
    owner: Actor, quantity, accepted, claims, submissions
):
    count_case("open slots")
    with transaction.atomic():
        bounty = _bounty_in_state(owner, quantity, accepted, claims, submissions)
        [row] = bounty_rows_near(lat=LONDON[0], lon=LONDON[1], within_m=100, agent=owner.agent)
        assert row["open_slots"] == open_slots_by_bounty([bounty])[bounty.pk] == open_slots(bounty)
        transaction.set_rollback(True)


def test_a_claim_is_refused_exactly_when_the_owner_says_no_slot_is_open(owner: Actor):
    bounty = funded_bounty(owner.agent, quantity=2)
    for _ in range(2):
        assert open_slots(bounty) > 0
        claim_create(bounty=bounty, worker=UserFactory())
    assert open_slots(bounty) == 0
    with pytest.raises(ApplicationError, match="Every slot"):
        claim_create(bounty=bounty, worker=UserFactory())


def test_no_module_but_the_owner_subtracts_from_a_bounty_quantity():
    def subtraction(node: ast.AST) -> str | None:
        is_subtraction = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)
        if is_subtraction and "quantity" in ast.unparse(node.left):  # type: ignore[attr-defined]
            return ast.unparse(node)
        return None

    assert _found(subtraction, owner="bounties/models/market.py") == []


# --- Check names: the enum, never a literal --------------------------------------------------


def test_check_names_are_written_only_as_the_enum():
    names = {str(name) for name in CheckName}
    # "location" and "time" are ordinary words too: such a literal counts beside another name
    ordinary = {"location", "time"}

    def literal(node: ast.AST) -> str | None:
        if _string(node) in names - ordinary:
            return repr(_string(node))
        if isinstance(node, ast.Set | ast.List | ast.Tuple):
            values = names.intersection(map(_string, node.elts))
            if values & ordinary and len(values) > 1:
                return str(sorted(values))
        return None

    assert _found(literal, owner="verification/checks/__init__.py") == []
