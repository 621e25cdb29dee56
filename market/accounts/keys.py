"""API key format: generation, parsing, hashing. Plain Python, no Django.

A key reads ``sl_<prefix>_<secret><checksum>`` (live) or ``sl_test_<prefix>_<secret><checksum>``
(test mode). The prefix (8 base62 characters) identifies the key and is stored; the secret (32
base62 characters, ~190 bits) is never stored, only the SHA-256 of the whole key. The checksum is
the CRC32 of everything before it in 6 base62 characters, so secret scanners (and we) can tell a
real key from a typo without a database lookup.
"""

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PREFIX_LENGTH = 8
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
LIVE_HEAD = "sl_"
TEST_HEAD = "sl_test_"

KEY_PATTERN = re.compile(
    rf"\b(?P<head>sl_(?:test_)?(?P<prefix>[0-9A-Za-z]{{{PREFIX_LENGTH}}}))"
    rf"_[0-9A-Za-z]{{{SECRET_LENGTH + CHECKSUM_LENGTH}}}\b"
)


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    is_test: bool


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def random_token(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    return base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def compose(*, prefix: str, secret: str, is_test: bool) -> str:
    """The full key for a prefix and a secret."""
    body = f"{TEST_HEAD if is_test else LIVE_HEAD}{prefix}_{secret}"
    return body + checksum(body)


def generate(*, is_test: bool) -> tuple[str, str]:
    """A new random key: ``(prefix, full_key)``."""
    prefix = random_token(PREFIX_LENGTH)
    return prefix, compose(prefix=prefix, secret=random_token(SECRET_LENGTH), is_test=is_test)


def parse(key: str) -> ParsedKey | None:
    """The prefix and mode of a well-formed key with a valid checksum, else None."""
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        return None
    body, check = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(body), check):
        return None
    return ParsedKey(prefix=match.group("prefix"), is_test=key.startswith(TEST_HEAD))


def hash_key(key: str) -> str:
    """What we store. Keys carry ~190 random bits, so a plain SHA-256 cannot be brute-forced."""
    return hashlib.sha256(key.encode()).hexdigest()


def redact(text: str) -> str:
    """``text`` with the secret part of every API key replaced (the prefix is kept for support)."""
    return KEY_PATTERN.sub(r"\g<head>_[REDACTED]", text)
