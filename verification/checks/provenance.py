"""Provenance: C2PA content credentials, when the camera or app wrote them.

A valid manifest is a trust signal for the policy; most photos carry none, and lacking one
never fails a photo.
"""

from __future__ import annotations

import io
from typing import Any

import c2pa

from verification.checks import CheckName, CheckResult, passed, skipped

_VALID_STATES = {"Valid", "Trusted"}


def check_provenance(data: bytes, mime_type: str) -> CheckResult:
    name = CheckName.PROVENANCE
    try:
        reader = c2pa.Reader.try_create(mime_type, io.BytesIO(data))
    except Exception as exc:  # the native reader's errors (unsupported, malformed) are not ours
        return skipped(name, "no content credentials", error=type(exc).__name__)
    if reader is None:
        return skipped(name, "no content credentials")
    try:
        state = reader.get_validation_state()
        manifest: dict[str, Any] = reader.get_active_manifest() or {}
    except Exception as exc:
        return skipped(name, "The content credentials could not be read.", error=str(exc)[:200])
    finally:
        reader.close()
    signature = manifest.get("signature_info") or {}
    generators = manifest.get("claim_generator_info") or [{}]
    details = {
        "validation_state": state,
        "claim_generator": manifest.get("claim_generator") or generators[0].get("name"),
        "signer": signature.get("common_name"),
        "issuer": signature.get("issuer"),
        "title": manifest.get("title"),
    }
    if state in _VALID_STATES:
        return passed(
            name,
            "The photo carries valid content credentials.",
            1.0,
            trusted=state == "Trusted",
            **details,
        )
    return skipped(name, "The photo's content credentials did not validate.", **details)
