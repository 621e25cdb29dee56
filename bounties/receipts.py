"""Provenance receipts: a JSON document about an accepted photo, signed with Ed25519.

The agent can prove where its data came from: the receipt states the photo's SHA-256, capture
and server times, the verified location, every check's verdict and the model version, and the
server's signature over its canonical JSON (sorted keys, no spaces, UTF-8). Public keys are
served at ``/api/v1/keys/``.
"""

import base64
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALGORITHM = "ed25519"


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _seed_from_settings() -> bytes:
    configured = settings.RECEIPT_SIGNING_KEY
    if configured:
        try:
            seed = base64.b64decode(configured, validate=True)
        except ValueError as exc:
            raise ImproperlyConfigured("RECEIPT_SIGNING_KEY must be base64") from exc
        if len(seed) != 32:
            raise ImproperlyConfigured("RECEIPT_SIGNING_KEY must be 32 bytes (base64)")
        return seed
    if settings.PRODUCTION:
        raise ImproperlyConfigured("RECEIPT_SIGNING_KEY is required in production")
    path = Path(settings.VAR_DIR) / "receipt_signing_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        path.write_bytes(base64.b64encode(seed))
        path.chmod(0o600)
    return base64.b64decode(path.read_bytes())


@lru_cache(maxsize=1)
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_seed_from_settings())


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_keys() -> list[dict[str, str]]:
    """The current public key, then any previous ones still trusted (key rotation)."""
    current = _raw_public(signing_key().public_key())
    keys = [current] + [base64.b64decode(k) for k in settings.RECEIPT_PREVIOUS_PUBLIC_KEYS]
    return [
        {
            "key_id": key_id_for(raw),
            "algorithm": ALGORITHM,
            "public_key": base64.b64encode(raw).decode(),
        }
        for raw in keys
    ]


def sign(document: dict[str, Any]) -> tuple[str, str]:
    """``(signature in base64, key_id)`` for the canonical JSON of ``document``."""
    key = signing_key()
    signature = key.sign(canonical_json(document))
    return base64.b64encode(signature).decode(), key_id_for(_raw_public(key.public_key()))


def verify(document: dict[str, Any], signature_b64: str, public_key_b64: str) -> bool:
    """Check a receipt's signature (what an agent does with the SDK)."""
    from cryptography.exceptions import InvalidSignature

    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    try:
        public.verify(base64.b64decode(signature_b64), canonical_json(document))
    except InvalidSignature:
        return False
    return True
