"""One module per check. Every check returns a `CheckResult`; none raises on bad input."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class CheckName(StrEnum):
    INTEGRITY = "integrity"
    LOCATION = "location"
    TIME = "time"
    DUPLICATES = "duplicates"
    RELEVANCE = "relevance"
    SAFETY = "safety"
    PROVENANCE = "provenance"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check. `reason` is a sentence a worker can read.

    `needs_review` marks an outcome the check cannot settle alone (a score in an uncertain
    band); the policy decides whether that sends the photo to a person.
    """

    name: str
    status: Status
    score: float | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    needs_review: bool = False

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data


def passed(name: str, reason: str, score: float | None = None, /, **details: Any) -> CheckResult:
    return CheckResult(name, Status.PASSED, score, reason, details)


def failed(name: str, reason: str, score: float | None = None, /, **details: Any) -> CheckResult:
    return CheckResult(name, Status.FAILED, score, reason, details)


def skipped(name: str, reason: str, /, **details: Any) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, None, reason, details)
