"""Reads for bounties: the nearest-open-bounties search shared by the API and the website."""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Count, F, FloatField, Func, QuerySet, Value
from django.utils import timezone

from bounties.models import (
    AWAITING_VERDICT,
    Bounty,
    BountyStatus,
    Claim,
    ClaimStatus,
    Submission,
    SubmissionStatus,
)
from market.accounts.models import Agent

EARTH_RADIUS_M = 6_371_000.0
# Below this many open bounties, an agent's own search filters its rows instead of walking
# the whole index nearest-first.
FEW_OWN_BOUNTIES = 5_000


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# PostgreSQL's earthdistance functions and cube operators, as query expressions.
class LlToEarth(Func):
    function = "ll_to_earth"
    output_field = FloatField()  # a cube, never read back as a value


class EarthDistance(Func):
    function = "earth_distance"
    output_field = FloatField()


class EarthBox(Func):
    function = "earth_box"
    output_field = FloatField()


class CubeContains(Func):
    arg_joiner = " @> "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class CubeDistance(Func):
    """Distance between cubes: the operator the GiST index answers nearest-first (KNN)."""

    arg_joiner = " <-> "
    template = "(%(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class NearbyBounty:
    bounty: Bounty
    distance_m: float


def bounties_near(
    *,
    lat: float,
    lon: float,
    within_m: float,
    test_mode: bool = False,
    agent: Agent | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[NearbyBounty]:
    """Open bounties whose window has not ended, within ``within_m`` of (lat, lon), nearest
    first (only ``agent``'s when given).

    On PostgreSQL the search walks the GiST index nearest-first (KNN) and stops after
    ``offset + limit`` rows, whatever the number of open bounties; rows beyond ``within_m`` are
    dropped afterwards (they come last). An agent with few open bounties is searched through
    its own rows instead, which is cheaper than walking everyone's. Elsewhere (SQLite, in
    development) a bounding box is scanned."""
    now = timezone.now()
    base = Bounty.objects.filter(status=BountyStatus.OPEN, ends_at__gt=now, is_test=test_mode)
    if agent is not None:
        base = base.filter(agent=agent)
    if connection.vendor == "postgresql":
        point = LlToEarth(F("lat"), F("lon"))
        here = LlToEarth(Value(lat), Value(lon))
        annotated = base.annotate(distance_m=EarthDistance(point, here))
        if agent is not None and not base[FEW_OWN_BOUNTIES : FEW_OWN_BOUNTIES + 1].exists():
            rows = annotated.filter(
                CubeContains(EarthBox(here, Value(within_m)), point), distance_m__lte=within_m
            ).order_by("distance_m", "id")
        else:
            # Ordered by the index's distance alone (no tie-breaker), so Postgres uses KNN.
            rows = annotated.order_by(CubeDistance(point, here))
        return [
            NearbyBounty(bounty=b, distance_m=float(b.distance_m))
            for b in rows[offset : offset + limit]
            if b.distance_m <= within_m
        ]
    # SQLite (development): a bounding box, then exact distances in Python.
    dlat = math.degrees(within_m / EARTH_RADIUS_M)
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    candidates = base.filter(lat__range=(lat - dlat, lat + dlat))
    if dlon < 180:
        candidates = candidates.filter(lon__range=(lon - dlon, lon + dlon))
    nearby = [
        NearbyBounty(bounty=b, distance_m=haversine_m(lat, lon, b.lat, b.lon)) for b in candidates
    ]
    nearby = [n for n in nearby if n.distance_m <= within_m]
    nearby.sort(key=lambda n: (n.distance_m, n.bounty.pk))
    return nearby[offset : offset + limit]


def with_open_slots(bounties: Iterable[Bounty]) -> list[Bounty]:
    """The bounties with ``open_slots`` set: quantity - accepted - active claims - submissions
    awaiting a verdict (two grouped queries for the whole page)."""
    rows = list(bounties)
    ids = [bounty.pk for bounty in rows if bounty.is_open]
    now = timezone.now()
    claims = dict(
        Claim.objects.filter(bounty_id__in=ids, status=ClaimStatus.ACTIVE, expires_at__gt=now)
        .values_list("bounty_id")
        .annotate(count=Count("id"))
        .values_list("bounty_id", "count")
    )
    awaiting = dict(
        Submission.objects.filter(bounty_id__in=ids, status__in=AWAITING_VERDICT)
        .values_list("bounty_id")
        .annotate(count=Count("id"))
        .values_list("bounty_id", "count")
    )
    for bounty in rows:
        reserved = claims.get(bounty.pk, 0) + awaiting.get(bounty.pk, 0)
        bounty.open_slots = (  # type: ignore[attr-defined]
            max(0, bounty.quantity - bounty.accepted_count - reserved) if bounty.is_open else 0
        )
    return rows


def bounties_for_agent(agent: Agent, *, status: str | None = None) -> QuerySet[Bounty]:
    queryset = Bounty.objects.filter(agent=agent)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def submissions_for_agent(
    agent: Agent, *, bounty_id: int | None = None, status: str | None = None
) -> QuerySet[Submission]:
    queryset = Submission.objects.filter(bounty__agent=agent).select_related("bounty")
    if bounty_id is not None:
        queryset = queryset.filter(bounty_id=bounty_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def worker_verdicts(
    worker_id: int, *, exclude_submission_id: int | None = None, limit: int | None = 50
) -> list[tuple[bool, datetime]]:
    """The worker's decided submissions, newest first, as (accepted, decided_at): what
    reputation is computed from."""
    decided = Submission.objects.filter(
        worker_id=worker_id,
        status__in=[SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED],
        decided_at__isnull=False,
    ).order_by("-decided_at")
    if exclude_submission_id is not None:
        decided = decided.exclude(pk=exclude_submission_id)
    rows = decided.values_list("status", "decided_at")
    return [
        (status == SubmissionStatus.ACCEPTED, at)
        for status, at in (rows[:limit] if limit is not None else rows)
        if at is not None
    ]
