"""Agents and wallets, API keys, bounties' progress, the gallery and its photos and receipts:
the owner sees theirs, everyone else gets 403 or 404."""

import pytest
from django.test import TestCase

from bounties.models import Submission
from bounties.services import submission_decide
from market.accounts.keys import hash_key
from market.accounts.models import Agent, APIKey
from tests.bounties.helpers import submit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_agents_page_lists_own_agents_with_wallets(owner_client, owner, outsider, bounty):
    page = owner_client.get("/agents/").content.decode()
    assert owner.agent.name in page and outsider.agent.name not in page
    assert "In escrow" in page and "8.80 USD" in page  # two slots of 4.00 + 10% fee
    assert f"/agents/{owner.agent.pk}/add-funds/" in page


def test_a_requester_creates_an_agent(owner_client, owner) -> None:
    response = owner_client.post("/agents/", {"name": "scout", "is_test": "on"})
    agent = Agent.objects.get(owner=owner.user, name="scout")
    assert response.status_code == 302 and response["Location"] == f"/agents/{agent.pk}/"
    assert agent.is_test


@pytest.mark.parametrize(("name", "message"), [("", "This field is required."),
                                               ("   ", "This field is required.")])  # fmt: skip
def test_a_bad_agent_name_is_explained(owner_client, name, message) -> None:
    response = owner_client.post("/agents/", {"name": name})
    assert response.status_code == 400 and message in response.content.decode()


def test_a_taken_agent_name_is_explained(owner_client, owner) -> None:
    response = owner_client.post("/agents/", {"name": owner.agent.name})
    assert response.status_code == 400
    assert "You already have an agent named" in response.content.decode()


def test_the_agent_page_shows_wallet_keys_and_bounty_progress(owner_client, owner, bounty):
    page = owner_client.get(f"/agents/{owner.agent.pk}/").content.decode()
    assert owner.api_key.display_prefix in page
    assert bounty.title in page and "0 of 2 accepted, 2 open" in page
    assert f"/agents/{owner.agent.pk}/gallery/" in page


def test_a_new_key_is_shown_once_and_works(owner_client, owner) -> None:
    response = owner_client.post(
        f"/agents/{owner.agent.pk}/keys/", {"name": "ci", "scopes": ["bounties:read"]}
    )
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    api_key = APIKey.objects.get(agent=owner.agent, name="ci")
    shown = response.context["new_key"]
    assert hash_key(shown) == api_key.hashed_key and shown in response.content.decode()
    assert api_key.scopes == ["bounties:read"]
    assert shown not in owner_client.get(f"/agents/{owner.agent.pk}/").content.decode()


def test_a_key_without_scopes_is_explained(owner_client, owner) -> None:
    response = owner_client.post(f"/agents/{owner.agent.pk}/keys/", {"name": "x"})
    assert response.status_code == 400 and "Pick at least one scope." in response.content.decode()
    bogus = owner_client.post(f"/agents/{owner.agent.pk}/keys/", {"scopes": ["admin:all"]})
    assert bogus.status_code == 400 and "Select a valid choice" in bogus.content.decode()


def test_a_key_is_revoked(owner_client, owner) -> None:
    response = owner_client.post(f"/agents/{owner.agent.pk}/keys/{owner.api_key.pk}/revoke/")
    assert response.status_code == 302
    owner.api_key.refresh_from_db()
    assert owner.api_key.is_revoked
    assert "revoked" in owner_client.get(response["Location"]).content.decode()


def test_outsiders_get_404_for_others_agents_and_keys(outsider_client, owner) -> None:
    agent = owner.agent
    assert outsider_client.get(f"/agents/{agent.pk}/").status_code == 404
    assert (
        outsider_client.post(f"/agents/{agent.pk}/keys/", {"scopes": ["bounties:read"]}).status_code
        == 404
    )
    assert (
        outsider_client.post(f"/agents/{agent.pk}/keys/{owner.api_key.pk}/revoke/").status_code
        == 404
    )
    assert outsider_client.get(f"/agents/{agent.pk}/gallery/").status_code == 404
    assert not APIKey.objects.filter(agent=agent).exclude(pk=owner.api_key.pk).exists()
    owner.api_key.refresh_from_db()
    assert not owner.api_key.is_revoked


def test_an_owner_cannot_revoke_a_key_through_another_of_their_agents(
    owner_client, owner, outsider
):
    url = f"/agents/{owner.agent.pk}/keys/{outsider.api_key.pk}/revoke/"
    assert owner_client.post(url).status_code == 404


def test_workers_and_strangers_are_kept_out(client, owner) -> None:
    assert client.get("/agents/").status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get("/agents/").status_code == 403
    assert client.get(f"/agents/{owner.agent.pk}/").status_code == 403


@pytest.fixture
def accepted(bounty, worker) -> Submission:
    submission = submit(bounty, worker)
    submission.checks = [{"name": "location", "status": "passed", "score": 1.0, "reason": "ok"}]
    submission.save(update_fields=["checks"])
    with TestCase.captureOnCommitCallbacks(execute=True):  # the delivery runs after commit
        submission_decide(
            submission=submission, accept=True, reasons=["All checks passed."], actor="t"
        )
    submission.refresh_from_db()
    return submission


def test_the_gallery_shows_accepted_photos_with_checks_and_receipts(owner_client, owner, accepted):
    page = owner_client.get(f"/agents/{owner.agent.pk}/gallery/").content.decode()
    assert f'src="/photos/{accepted.pk}/"' in page and 'alt="Photo for' in page
    assert "Location: passed" in page and f"/photos/{accepted.pk}/receipt.json" in page
    photo = owner_client.get(f"/photos/{accepted.pk}/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content).startswith(b"\xff\xd8")
    receipt = owner_client.get(f"/photos/{accepted.pk}/receipt.json").json()
    assert receipt["receipt"]["submission"] == accepted.pk and receipt["signature"]


def test_photos_and_receipts_are_the_owners_only(client, outsider, worker, accepted) -> None:
    for user in (outsider.user, worker):
        client.force_login(user)
        assert client.get(f"/photos/{accepted.pk}/").status_code in (403, 404)
        assert client.get(f"/photos/{accepted.pk}/receipt.json").status_code in (403, 404)
    client.logout()
    assert client.get(f"/photos/{accepted.pk}/").status_code == 302


def test_a_photo_not_yet_accepted_is_not_served(owner_client, bounty, worker) -> None:
    pending = submit(bounty, worker)
    assert owner_client.get(f"/photos/{pending.pk}/").status_code == 404
