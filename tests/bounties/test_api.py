import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bounties.models import (
    MAX_METADATA_BYTES,
    MAX_QUANTITY,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    Bounty,
    BountyStatus,
)
from market.accounts.models import Scope
from market.accounts.services import api_key_create
from market.core.models import IdempotencyRecord
from market.core.problems import PROBLEM_CONTENT_TYPE
from market.ledger.models import Transaction, TransactionKind
from market.ledger.selectors import wallet_summary
from market.ledger.services import wallet_credit_test_funds
from tests.bounties.helpers import BOUNTIES, body, funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(owner: Actor) -> Actor:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=100_000, idempotency_key="f")
    return owner


def test_an_agent_posts_a_bounty_and_escrow_is_held(funded: Actor) -> None:
    response = funded.client().post(BOUNTIES, body(), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "open" and data["price"] == 400 and data["fee"] == 40
    assert data["open_slots"] == 5 and data["accepted"] == 0 and data["test_mode"] is False
    assert data["claim_ttl_seconds"] == 1800 and data["metadata"] == {"store": 17}
    assert Bounty.objects.get(pk=data["id"]).agent == funded.agent
    assert wallet_summary(funded.agent).held_minor == 2_200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lon": -181}, "lon"),
        ({"radius_m": MIN_RADIUS_M - 1}, "radius_m"),
        ({"radius_m": MAX_RADIUS_M + 1}, "radius_m"),
        ({"ends_at": "2020-01-01T00:00:00Z", "starts_at": "2019-01-01T00:00:00Z"}, "ends_at"),
        ({"ends_at": (timezone.now() + timedelta(minutes=5)).isoformat(),
          "starts_at": (timezone.now() + timedelta(minutes=10)).isoformat()}, "ends_at"),
        ({"price": 0}, "price"),
        ({"price": -5}, "price"),
        ({"price": 1.5}, "price"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": MAX_QUANTITY + 1}, "quantity"),
        ({"currency": "xyz"}, "currency"),
        ({"metadata": {"blob": "x" * MAX_METADATA_BYTES}}, "metadata"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"title": ""}, "title"),
        ({"verify": None}, "verify"),
    ],
)  # fmt: skip
def test_bad_input_answers_400_with_field_errors(
    funded: Actor, overrides: dict[str, Any], field: str
) -> None:
    response = funded.client().post(BOUNTIES, body(**overrides), format="json")
    problem = assert_problem(response, 400, "validation_error")
    assert field in problem["errors"], problem
    assert not Bounty.objects.exists()
    assert not Transaction.objects.filter(kind=TransactionKind.ESCROW_HOLD).exists()


def test_malformed_json_and_wrong_content_type(funded: Actor) -> None:
    client = funded.client()
    assert_problem(
        client.post(BOUNTIES, data='{"title": ', content_type="application/json"),
        400,
        "malformed_request",
    )
    assert_problem(
        client.post(BOUNTIES, data="title=x", content_type="text/plain"), 415,
        "unsupported_media_type",
    )  # fmt: skip
    assert not Bounty.objects.exists()


def test_posting_without_funds_answers_402(owner: Actor) -> None:
    problem = assert_problem(owner.client().post(BOUNTIES, body(), format="json"), 402,
                             "insufficient_funds")  # fmt: skip
    assert problem["needed_minor"] == 2_200
    assert not Bounty.objects.exists()


def test_posting_beyond_the_daily_cap_answers_402(funded: Actor) -> None:
    funded.agent.daily_spend_cap_minor = 1_000
    funded.agent.save()
    assert_problem(
        funded.client().post(BOUNTIES, body(), format="json"), 402, "spending_cap_exceeded"
    )
    assert wallet_summary(funded.agent).held_minor == 0


def test_the_same_idempotency_key_replays_the_first_response(funded: Actor) -> None:
    client, payload = funded.client(), body()
    first = client.post(BOUNTIES, payload, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    second = client.post(BOUNTIES, payload, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Bounty.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_HOLD).count() == 1


def test_a_reused_key_with_another_body_answers_422(funded: Actor) -> None:
    client = funded.client()
    client.post(BOUNTIES, body(), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    response = client.post(BOUNTIES, body(quantity=2), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert_problem(response, 422, "idempotency_key_reused")
    assert Bounty.objects.count() == 1


def test_a_duplicate_still_in_flight_answers_409(funded: Actor) -> None:
    client = funded.client()
    payload = json.dumps(body())
    IdempotencyRecord.objects.create(
        principal=f"agent:{funded.agent.pk}", key="busy",
        fingerprint=_fingerprint("POST", BOUNTIES, payload.encode()),
        created_at=timezone.now(), locked_at=timezone.now(),
    )  # fmt: skip
    response = client.post(BOUNTIES, payload, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="busy")  # fmt: skip
    assert_problem(response, 409, "idempotency_request_in_progress")
    assert not Bounty.objects.exists()


def test_an_abandoned_key_is_taken_over(funded: Actor) -> None:
    payload = json.dumps(body())
    long_ago = timezone.now() - timedelta(minutes=10)
    IdempotencyRecord.objects.create(
        principal=f"agent:{funded.agent.pk}", key="crashed",
        fingerprint=_fingerprint("POST", BOUNTIES, payload.encode()),
        created_at=long_ago, locked_at=long_ago,
    )  # fmt: skip
    response = funded.client().post(BOUNTIES, payload, content_type="application/json",
                                    HTTP_IDEMPOTENCY_KEY="crashed")  # fmt: skip
    assert response.status_code == 201
    assert not IdempotencyRecord.objects.get(key="crashed").in_progress


def test_failed_requests_are_replayed_too_but_keys_are_per_agent(
    funded: Actor, outsider: Actor
) -> None:
    bad = body(lat=100)
    first = funded.client().post(BOUNTIES, bad, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = funded.client().post(BOUNTIES, bad, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == again.status_code == 400
    assert again["Content-Type"] == PROBLEM_CONTENT_TYPE
    wallet_credit_test_funds(agent=outsider.agent, amount_minor=10_000, idempotency_key="o")
    other = outsider.client().post(BOUNTIES, body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 201


def _fingerprint(method: str, path: str, payload: bytes) -> str:
    import hashlib

    return hashlib.sha256(f"{method} {path}\n".encode() + payload).hexdigest()


def test_list_get_and_cancel_with_refund(funded: Actor) -> None:
    client = funded.client()
    ids = [client.post(BOUNTIES, body(title=f"b{i}"), format="json").json()["id"] for i in range(3)]
    listing = client.get(BOUNTIES).json()
    assert [row["id"] for row in listing["results"]] == ids[::-1]
    assert client.get(f"{BOUNTIES}{ids[0]}/").json()["title"] == "b0"

    cancelled = client.post(f"{BOUNTIES}{ids[0]}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["open_slots"] == 0
    assert wallet_summary(funded.agent).held_minor == 2 * 2_200
    assert [r["id"] for r in client.get(BOUNTIES, {"status": "open"}).json()["results"]] == ids[
        :0:-1
    ]


def test_cancelling_a_fulfilled_bounty_answers_409(funded: Actor) -> None:
    from bounties.services import submission_decide

    bounty = funded_bounty(funded.agent, quantity=1)
    submission_decide(submission=submit(bounty, UserFactory()), accept=True, reasons=[],
                      actor="t")  # fmt: skip
    assert_problem(funded.client().post(f"{BOUNTIES}{bounty.pk}/cancel/"), 409,
                   "invalid_transition")  # fmt: skip


def test_near_lists_nearest_first_within_the_distance(funded: Actor) -> None:
    client = funded.client()
    # ~0 m, ~1.1 km and ~11 km north of the search point; one in Paris
    for title, lat, lon in [
        ("here", 51.5072, -0.1276),
        ("1km", 51.5172, -0.1276),
        ("11km", 51.6072, -0.1276),
        ("paris", 48.8566, 2.3522),
    ]:
        client.post(BOUNTIES, body(title=title, lat=lat, lon=lon), format="json")  # fmt: skip
    rows = client.get(BOUNTIES, {"near": "51.5072,-0.1276", "within_m": "20000"}).json()["results"]
    assert [row["title"] for row in rows] == ["here", "1km", "11km"]
    assert rows[0]["distance_m"] < 1 and 1_000 < rows[1]["distance_m"] < 1_200
    page = client.get(BOUNTIES, {"near": "51.5072,-0.1276", "within_m": "20000", "page_size": "2"})
    assert [row["title"] for row in page.json()["results"]] == ["here", "1km"]
    assert [r["title"] for r in client.get(page.json()["next"]).json()["results"]] == ["11km"]
    problem = assert_problem(client.get(BOUNTIES, {"near": "north"}), 400, "validation_error")
    assert "near" in problem["errors"]


def test_near_list_renders_what_the_bounty_serializer_renders(funded: Actor) -> None:
    from bounties.api import BountyOutputSerializer
    from bounties.selectors import with_open_slots
    from bounties.services import bounty_cancel, claim_create

    bounty = funded_bounty(funded.agent, quantity=3, metadata={"store": 17, "tags": ["a"]})
    claim_create(bounty=bounty, worker=UserFactory())
    funded_bounty(funded.agent, lat=51.5172)
    bounty_cancel(bounty=funded_bounty(funded.agent, lat=51.5100), actor="t")  # closed: not listed
    rows = funded.client().get(BOUNTIES, {"near": "51.5072,-0.1276"}).json()["results"]
    assert len(rows) == 2
    [bounty] = with_open_slots([Bounty.objects.get(pk=bounty.pk)])
    bounty.distance_m = rows[0]["distance_m"]  # type: ignore[attr-defined]
    assert rows[0] == BountyOutputSerializer(bounty).data
    assert rows[0]["open_slots"] == 2 and list(rows[0]) == list(BountyOutputSerializer().fields)


def test_outsiders_get_404_for_another_agents_bounty(funded: Actor, outsider: Actor) -> None:
    bounty = funded_bounty(funded.agent)
    assert_problem(outsider.client().get(f"{BOUNTIES}{bounty.pk}/"), 404, "not_found")
    assert_problem(outsider.client().post(f"{BOUNTIES}{bounty.pk}/cancel/"), 404, "not_found")
    assert outsider.client().get(BOUNTIES).json()["results"] == []
    assert outsider.client().get("/api/v1/submissions/").json()["results"] == []
    bounty.refresh_from_db()
    assert bounty.status == BountyStatus.OPEN


def test_scopes_are_enforced(funded: Actor) -> None:
    _, read_only = api_key_create(agent=funded.agent, scopes=[Scope.BOUNTIES_READ])
    funded.key = read_only
    assert_problem(funded.client().post(BOUNTIES, body(), format="json"), 403, "insufficient_scope")
    assert funded.client().get(BOUNTIES).status_code == 200


def test_submissions_are_listed_by_bounty_and_status(funded: Actor) -> None:
    bounty = funded_bounty(funded.agent)
    first = submit(bounty, UserFactory())
    submit(bounty, UserFactory())
    client = funded.client()
    rows = client.get("/api/v1/submissions/", {"bounty": bounty.pk}).json()["results"]
    assert len(rows) == 2 and rows[1]["id"] == first.pk and rows[1]["status"] == "received"
    assert client.get("/api/v1/submissions/", {"status": "accepted"}).json()["results"] == []
    assert client.get(f"/api/v1/submissions/{first.pk}/").json()["bounty"] == bounty.pk
    assert_problem(client.get("/api/v1/submissions/", {"status": "nope"}), 400, "validation_error")
