"""The SDK against the real server (pytest-django's live_server on PostgreSQL), not mocks."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agents_sdk import InsufficientFunds, NotFound, PermissionDenied, ValidationError
from bounties.models import Bounty
from bounties.services import submission_decide
from market.accounts.models import Scope
from market.accounts.services import api_key_create
from market.ledger.selectors import wallet_summary
from market.ledger.services import wallet_credit_test_funds
from tests.bounties.helpers import submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.sdk.helpers import bounty_fields, client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests decide submissions themselves: the pipeline has its own tests, and a
    synthetic test image would (rightly) fail its location and time checks."""
    monkeypatch.setattr("bounties.services.fulfilment._enqueue_verification", lambda _: None)


def test_the_whole_agent_flow(
    owner: Actor, live_server: Any, tmp_path: Path, no_verification: None
) -> None:
    sl = client(owner, live_server)
    with pytest.raises(InsufficientFunds):
        sl.bounties.create(**bounty_fields())
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000, idempotency_key="f")

    fields = bounty_fields(metadata={"store": 7})
    bounty = sl.bounties.create(**fields, idempotency_key="post-1")
    replay = sl.bounties.create(**fields, idempotency_key="post-1")
    assert replay.id == bounty.id and Bounty.objects.count() == 1
    assert bounty.status == "open" and bounty.open_slots == 2 and bounty.fee == 40
    assert sl.wallet.get().held == 880

    assert [b.id for b in sl.bounties.list(status="open")] == [bounty.id]
    nearby = list(sl.bounties.list(near=(51.5072, -0.1276), within_m=1_000))
    assert [b.id for b in nearby] == [bounty.id] and nearby[0].distance_m is not None
    assert sl.bounties.get(bounty.id).title == "Queue outside the bakery"

    accepted = submit(Bounty.objects.get(pk=bounty.id), UserFactory())
    submission_decide(submission=accepted, accept=True, reasons=[], actor="test")
    waited = list(sl.bounties.wait(bounty.id, timeout=5, poll_interval=0.1))
    assert [s.id for s in waited] == [accepted.pk]

    [listed] = sl.submissions.list(bounty=bounty.id, status="accepted")
    assert listed.photo_url and listed.receipt_url
    target = tmp_path / "photo.jpg"
    sl.submissions.download(accepted.pk, target)
    assert Image.open(target).format == "JPEG"
    receipt = sl.submissions.receipt(accepted.pk)
    assert receipt.verify()
    assert (
        receipt.receipt["photo"]["sha256"]
        == Bounty.objects.get(pk=bounty.id).submissions.get().delivered_sha256
    )

    cancelled = sl.bounties.cancel(bounty.id)
    assert cancelled.status == "cancelled"
    # the one unfilled slot came back to the wallet
    assert wallet_summary(owner.agent).available_minor == 10_000 - 440
    assert sl.wallet.get().held == 0


def test_typed_errors_from_the_real_server(owner: Actor, outsider: Actor, live_server: Any) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000, idempotency_key="f")
    sl = client(owner, live_server)
    with pytest.raises(ValidationError) as invalid:
        sl.bounties.create(**bounty_fields(lat=91, quantity=0))
    assert {"lat", "quantity"} <= set(invalid.value.errors)
    bounty = sl.bounties.create(**bounty_fields())
    with pytest.raises(NotFound):
        client(outsider, live_server).bounties.get(bounty.id)
    _, read_only = api_key_create(agent=owner.agent, scopes=[Scope.BOUNTIES_READ])
    owner.key = read_only
    with pytest.raises(PermissionDenied):
        client(owner, live_server).bounties.create(
            **bounty_fields(), idempotency_key=str(uuid.uuid4())
        )


def test_questions_through_the_sdk(owner: Actor, live_server: Any) -> None:
    from forecasting.models import Question

    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000, idempotency_key="f")
    sl = client(owner, live_server)
    now = datetime.now(UTC)
    question = sl.questions.create(
        title="Will the queue pass 10 people?", resolution_criteria="the 17:30 photo",
        closes_at=now + timedelta(hours=1), resolves_at=now + timedelta(hours=2),
        lat=51.5072, lon=-0.1276, stake=5_000, max_acquisition_spend=1_000,
        evidence_template={"verify": "a queue outside the bakery", "price": 200, "quantity": 2},
    )  # fmt: skip
    # the market's acquisition loop buys evidence from this agent's wallet, and says why
    from forecasting.acquisition import acquire

    acquire(Question.objects.get(pk=question.id))
    (decision,) = sl.questions.acquisitions(question.id)
    assert decision.action == "posted" and decision.code == "posted" and decision.bounty
    assert (
        decision.cost == 2 * (200 + 20) and sl.questions.get(question.id).acquisition_spent == 440
    )
    assert sl.bounties.get(decision.bounty).raw["metadata"]["auto_posted"] is True

    bounty = sl.bounties.create(**bounty_fields())
    assert sl.questions.attach(question.id, bounty.id).bounties == [decision.bounty, bounty.id]

    forecast = sl.questions.forecast(question.id)
    assert forecast.interval[0] <= forecast.probability <= forecast.interval[1]
    assert forecast.model_version and forecast.evidence_count == 0
    assert [q.id for q in sl.questions.list(status="open")] == [question.id]
    Question.objects.filter(pk=question.id).update(closes_at=now - timedelta(seconds=1))
    resolved = sl.questions.resolve(question.id, outcome="no", source="counted 6")
    again = sl.questions.resolve(question.id, outcome="no", source="counted 6")
    assert resolved.outcome == again.outcome == "no" and resolved.status == "resolved"
