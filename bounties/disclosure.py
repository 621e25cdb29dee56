"""What an agent may read of a submission: the one rule for every agent-facing output (the
submissions API, webhook payloads).

An agent pays for accepted data. Until a submission is accepted it learns its status and which
checks passed or failed, never where or when the worker was: no reported location, no capture
time, no worker's note, and the location and time checks' scores and reasons (distances from
the spot, capture times) give way to fixed sentences. Once accepted, it reads what the signed
receipt states (``bounties.delivery``). The worker's identity and the raw EXIF reach no agent.

A submission waiting for its bounty's agent to judge it (``Submission.awaits_agent``) shows
that agent what it needs to judge: every check as it was stored, how far from the spot
(``distance_m``) and when the photo was taken, and a preview. Still no reported location, no
note, no identity, no EXIF: those only once it is accepted.
"""

from datetime import datetime
from typing import Any

from bounties.models import Submission, SubmissionStatus
from verification.checks import CheckName, Status
from verification.geo import haversine_m

# What these checks say (a score from the distance, a sentence with a distance or a capture
# time) places the worker; an agent reads these instead until the data is accepted.
_WITHHELD_CHECKS: dict[str, dict[str, str]] = {
    CheckName.LOCATION: {
        Status.PASSED: "The photo was taken inside the bounty's area.",
        Status.FAILED: "The photo was not taken inside the bounty's area.",
        Status.SKIPPED: "The location could not be checked.",
    },
    CheckName.TIME: {
        Status.PASSED: "The photo was taken inside the bounty's time window.",
        Status.FAILED: "The photo was not taken inside the bounty's time window.",
        Status.SKIPPED: "The capture time could not be checked.",
    },
}
_WITHHELD_OTHERWISE = "Withheld until the photo is accepted."


def released(submission: Submission) -> bool:
    """Whether the agent has the data: only an accepted submission's."""
    return submission.status == SubmissionStatus.ACCEPTED


def judged(submission: Submission) -> bool:
    """Whether the agent may read where and when the photo was taken, as a distance and a time:
    once accepted, and while it waits for the agent's own judgment."""
    return released(submission) or submission.awaits_agent


def _checks(submission: Submission) -> list[dict[str, Any]]:
    return [check for check in submission.checks or [] if isinstance(check, dict)]


def _withheld_reason(check: dict[str, Any]) -> str:
    return _WITHHELD_CHECKS[check["name"]].get(str(check.get("status")), _WITHHELD_OTHERWISE)


def agent_checks(submission: Submission) -> list[dict[str, Any]]:
    """Each check's name, status, score and reason, as the agent may read them."""
    shown = []
    for check in _checks(submission):
        public = {
            "name": check.get("name"),
            "status": check.get("status"),
            "score": check.get("score"),
            "reason": check.get("reason"),
        }
        if not judged(submission) and check.get("name") in _WITHHELD_CHECKS:
            public |= {"score": None, "reason": _withheld_reason(check)}
        shown.append(public)
    return shown


def agent_reasons(submission: Submission) -> list[str]:
    """The verdict's reasons, with a withheld check's own sentence replaced by its fixed one
    (the policy copies a failing check's reason into the verdict word for word)."""
    reasons = [str(reason) for reason in submission.reasons or []]
    if judged(submission):
        return reasons
    replaced = {
        check.get("reason"): _withheld_reason(check)
        for check in _checks(submission)
        if check.get("name") in _WITHHELD_CHECKS
    }
    return [replaced.get(reason, reason) for reason in reasons]


def agent_location(submission: Submission) -> dict[str, float | None] | None:
    """Where the worker's browser placed them, once accepted (the receipt states it too)."""
    if not released(submission) or submission.reported_lat is None:
        return None
    return {
        "lat": submission.reported_lat,
        "lon": submission.reported_lon,
        "accuracy_m": submission.reported_accuracy_m,
    }


def agent_captured_at(submission: Submission) -> datetime | None:
    return submission.captured_at if judged(submission) else None


def agent_distance_m(submission: Submission) -> float | None:
    """How far from the bounty's spot the photo was taken, to the metre: from the photo's GPS,
    else from where the worker's browser placed them (the location check's evidence, in that
    order). None before the agent may read it (``judged``) or without a position."""
    if not judged(submission):
        return None
    gps = (submission.facts or {}).get("gps")
    point: tuple[Any, Any] = (None, None)
    if isinstance(gps, dict):
        point = (gps.get("lat"), gps.get("lon"))
    if not all(isinstance(value, (int, float)) for value in point):
        point = (submission.reported_lat, submission.reported_lon)
    lat, lon = point
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    bounty = submission.bounty
    return float(round(haversine_m(lat, lon, bounty.lat, bounty.lon)))


def agent_note(submission: Submission) -> str:
    """The worker's note to the agent travels with the accepted photo only."""
    return submission.note if released(submission) else ""


def submission_event_data(submission: Submission) -> dict[str, Any]:
    """What a submission event carries to the agent's webhook; the rest is in the API."""
    return {
        "id": submission.pk,
        "object": "submission",
        "bounty": submission.bounty_id,
        "status": submission.status,
        "reasons": agent_reasons(submission),
        "decided_at": submission.decided_at,
    }
