"""Ed25519 signature *verification* in pure Python (RFC 8032, section 5.1.7).

Receipts are signed by the server with Ed25519. Verifying them must not pull in a
cryptography library, so this is the RFC's own algorithm, written for clarity rather than
speed (a verification takes a few milliseconds) and never used to sign: verification handles
only public data, so constant-time arithmetic is not needed here.

Points of the curve -x^2 + y^2 = 1 + d x^2 y^2 over GF(p) are kept in extended homogeneous
coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z and x*y = T/Z (RFC 8032, section 5.1.4).
"""

from __future__ import annotations

import hashlib

Point = tuple[int, int, int, int]

P = 2**255 - 19  # the field prime
L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point
D = -121665 * pow(121666, -1, P) % P  # the curve constant d
SQRT_M1 = pow(2, (P - 1) // 4, P)  # a square root of -1 modulo p
NEUTRAL: Point = (0, 1, 1, 0)


def _add(a: Point, b: Point) -> Point:
    """Point addition (RFC 8032, section 5.1.4); also correct for doubling."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = t1 * 2 * D * t2 % P
    dd = z1 * 2 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _multiply(scalar: int, point: Point) -> Point:
    """[scalar]point by double-and-add."""
    result = NEUTRAL
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a: Point, b: Point) -> bool:
    """Projective equality: x1/z1 == x2/z2 and y1/z1 == y2/z2."""
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def _recover_x(y: int, sign: int) -> int | None:
    """The x with the given low bit for y on the curve (RFC 8032, section 5.1.3 steps 2-4)."""
    if y >= P:
        return None  # non-canonical encoding
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)  # a candidate square root
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None  # x2 is not a square: y is not on the curve
    if x & 1 != sign:
        x = P - x
    return x


def _decode_point(encoded: bytes) -> Point | None:
    """A 32-byte little-endian y with the sign of x in the top bit (section 5.1.3)."""
    if len(encoded) != 32:
        return None
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_BASE_Y = 4 * pow(5, -1, P) % P
_BASE_X = _recover_x(_BASE_Y, 0)
assert _BASE_X is not None
BASE: Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % P)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``.

    RFC 8032, section 5.1.7: decode A (the key) and R (the signature's first half), reject
    S >= L, compute k = SHA-512(R || A || M) mod L, and check [8][S]B = [8]R + [8][k]A.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a_point = _decode_point(public_key)
    r_point = _decode_point(signature[:32])
    if a_point is None or r_point is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False  # malleable or malformed signature
    digest = hashlib.sha512(signature[:32] + public_key + message).digest()
    k = int.from_bytes(digest, "little") % L
    left = _multiply(8, _multiply(s, BASE))
    right = _multiply(8, _add(r_point, _multiply(k, a_point)))
    return _equal(left, right)
