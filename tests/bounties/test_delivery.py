"""What the agent receives: a clean derived photo and a receipt it can verify."""

import base64
import io

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from bounties.receipts import canonical_json
from tests.bounties.helpers import accept, funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def accepted(owner: Actor):
    bounty = funded_bounty(owner.agent, quantity=2)
    return accept(submit(bounty, UserFactory()))


def test_the_agent_downloads_a_photo_without_metadata(owner: Actor, accepted) -> None:
    response = owner.client().get(f"/api/v1/submissions/{accepted.pk}/photo/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    data = response.getvalue()
    image = Image.open(io.BytesIO(data))
    assert image.size == (64, 48)
    assert not image.getexif() and "icc_profile" not in image.info and "xmp" not in image.info


def test_the_receipt_verifies_against_the_published_key(owner: Actor, accepted, client) -> None:
    body = owner.client().get(f"/api/v1/submissions/{accepted.pk}/receipt/").json()
    receipt = body["receipt"]
    assert receipt["submission"] == accepted.pk and receipt["verdict"] == "accepted"
    assert receipt["photo"]["original_sha256"] == accepted.photo_sha256
    assert receipt["photo"]["sha256"] == accepted.delivered_sha256
    keys = client.get("/api/v1/keys/").json()["keys"]  # public: no API key needed
    [key] = [k for k in keys if k["key_id"] == body["key_id"]]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(base64.b64decode(body["signature"]), canonical_json(receipt))  # raises if bad
    tampered = {**receipt, "verdict": "rejected"}
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(body["signature"]), canonical_json(tampered))


def test_a_second_decision_keeps_the_first_receipt(owner: Actor, accepted) -> None:
    first = owner.client().get(f"/api/v1/submissions/{accepted.pk}/receipt/").json()
    accept(accepted, actor="retry")
    assert owner.client().get(f"/api/v1/submissions/{accepted.pk}/receipt/").json() == first


def test_nothing_is_released_before_acceptance(owner: Actor) -> None:
    submission = submit(funded_bounty(owner.agent), UserFactory())
    for part in ("photo", "receipt"):
        response = owner.client().get(f"/api/v1/submissions/{submission.pk}/{part}/")
        assert_problem(response, 409, "not_accepted")


def test_outsiders_get_404_for_photos_and_receipts(outsider: Actor, accepted) -> None:
    for part in ("photo", "receipt"):
        response = outsider.client().get(f"/api/v1/submissions/{accepted.pk}/{part}/")
        assert_problem(response, 404, "not_found")
