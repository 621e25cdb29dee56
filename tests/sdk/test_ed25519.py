"""Pure-Python Ed25519 verification against RFC 8032 and against `cryptography`."""

import os
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agents_sdk import _ed25519

# RFC 8032, section 7.1: (public key, message, signature), hex.
RFC_8032_VECTORS = {
    "TEST 1": (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    "TEST 2": (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    "TEST 3": (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    "TEST SHA(abc)": (
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
}


@pytest.mark.parametrize("name", RFC_8032_VECTORS)
def test_it_accepts_the_rfc_8032_test_vectors(name: str) -> None:
    public_key, message, signature = (bytes.fromhex(v) for v in RFC_8032_VECTORS[name])

    assert _ed25519.verify(public_key, message, signature)


@pytest.mark.parametrize("name", RFC_8032_VECTORS)
def test_it_rejects_the_rfc_8032_vectors_altered(name: str) -> None:
    public_key, message, signature = (bytes.fromhex(v) for v in RFC_8032_VECTORS[name])
    flipped = bytes([signature[0] ^ 1]) + signature[1:]

    assert not _ed25519.verify(public_key, message + b"\x00", signature)
    assert not _ed25519.verify(public_key, message, flipped)
    assert not _ed25519.verify(public_key, message, signature[:32] + bytes(32))


def test_it_rejects_s_at_or_above_the_group_order() -> None:
    public_key, message, signature = (bytes.fromhex(v) for v in RFC_8032_VECTORS["TEST 1"])
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + _ed25519.L).to_bytes(32, "little")

    assert not _ed25519.verify(public_key, message, malleated)


def test_it_rejects_wrong_lengths_and_points_off_the_curve() -> None:
    public_key, message, signature = (bytes.fromhex(v) for v in RFC_8032_VECTORS["TEST 1"])

    assert not _ed25519.verify(public_key[:31], message, signature)
    assert not _ed25519.verify(public_key, message, signature[:63])
    # y = 2 is not the y of any curve point.
    off_curve = (2).to_bytes(32, "little")
    assert not _ed25519.verify(off_curve, message, signature)
    # y >= p is a non-canonical encoding.
    assert not _ed25519.verify((_ed25519.P + 1).to_bytes(32, "little"), message, signature)


def test_it_agrees_with_cryptography_on_random_keys_and_messages() -> None:
    rng = random.Random(8032)
    for length in (0, 1, 31, 64, 200, 1000):
        private_key = Ed25519PrivateKey.generate()
        public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        message = os.urandom(length)
        signature = private_key.sign(message)

        assert _ed25519.verify(public_key, message, signature)

        tampered_message = bytearray(message or b"\x00")
        tampered_message[rng.randrange(len(tampered_message))] ^= 1 << rng.randrange(8)
        assert not _ed25519.verify(public_key, bytes(tampered_message), signature)

        tampered_signature = bytearray(signature)
        tampered_signature[rng.randrange(64)] ^= 1 << rng.randrange(8)
        assert not _ed25519.verify(public_key, message, bytes(tampered_signature))

        other_key = Ed25519PrivateKey.generate().public_key()
        other = other_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert not _ed25519.verify(other, message, signature)
