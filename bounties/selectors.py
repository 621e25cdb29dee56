"""Reads for bounties: the nearest-open-bounties search shared by the API and the website."""

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone
from psycopg.adapt import Loader

from bounties.models import (
    AWAITING_AGENT,
    AWAITING_VERDICT,
    Bounty,
    BountyStatus,
    Claim,
    ClaimStatus,
    Submission,
    SubmissionStatus,
    claim_holds_after,
    slots_left,
)
from market.accounts.models import Agent

EARTH_RADIUS_M = 6_371_000.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class NearbyBounty:
    bounty: Bounty
    distance_m: float


# A bounty's columns, in the model's order: the search reads them as plain values, which the
# agents' API renders without building model instances (its nearest list's hot path).
BOUNTY_FIELDS = tuple(field.attname for field in Bounty._meta.concrete_fields)
_BOUNTY_COLUMNS = ", ".join(f'b."{field.column}"' for field in Bounty._meta.concrete_fields)


def _near_sql(*, own: bool) -> str:
    """Nearest-first over open bounties with each one's reserved slots, in one query.

    Ordered by the index's distance alone (no tie-breaker), so PostgreSQL walks a GiST index
    nearest-first (KNN) and stops after LIMIT rows; the reserved slots are counted by index
    probes for those rows only. An agent's own search compares ``agent_id`` with a bigint, so
    the (agent, location) index answers it whether the agent has few open bounties or many."""
    bounty, claim, submission = (m._meta.db_table for m in (Bounty, Claim, Submission))
    own_filter = "AND b.agent_id = %(agent_id)s::bigint" if own else ""
    # Only table and column names from the models are formatted in; values are parameters.
    return f"""
        SELECT {_BOUNTY_COLUMNS},
            earth_distance(ll_to_earth(b.lat, b.lon), ll_to_earth(%(lat)s, %(lon)s)),
            (SELECT count(*) FROM {claim} AS c WHERE c.bounty_id = b.id
                AND c.status = %(active)s AND c.expires_at > %(claims_hold_after)s)
            + (SELECT count(*) FROM {submission} AS s WHERE s.bounty_id = b.id
                AND s.status = ANY(%(awaiting)s))
        FROM {bounty} AS b
        WHERE b.status = %(open)s AND b.ends_at > %(now)s AND b.is_test = %(test_mode)s
            {own_filter}
        ORDER BY ll_to_earth(b.lat, b.lon) <-> ll_to_earth(%(lat)s, %(lon)s)
        LIMIT %(limit)s OFFSET %(offset)s
    """  # noqa: S608


NEAR_SQL = {own: _near_sql(own=own) for own in (False, True)}


class _IsoTimestamptzLoader(Loader):
    """timestamptz read by ``datetime.fromisoformat`` (C) rather than Django's loader (psycopg's
    pure-Python parser): a page of the search reads five a row, 0.16 ms of CPU with Django's.
    Without it and the key lookup's join (market/accounts/selectors.py), bench/api.py's
    nearest list made 0.44 and 0.68 of the bare view's throughput in two runs (goal: at least
    0.5), against 0.83 and 0.84 with both (10k bounties, a loaded 2-core box, 2026-12-01).
    Built on psycopg's documented adapter API, not on Django's loader."""

    def load(self, data: Any) -> datetime:
        text = bytes(data).decode()
        try:  # the session's TimeZone is UTC (Django sets it): "2026-12-01 08:06:42.9+00"
            return datetime.fromisoformat(text)
        except ValueError as error:  # infinity, BC: no Python datetime (Django's loader fails too)
            raise psycopg.DataError(f"timestamp out of range: {text!r}") from error


def _read_timestamps_fast(cursor: Any) -> None:
    """On this psycopg cursor only, timestamptz columns load through ``_IsoTimestamptzLoader``."""
    cursor.adapters.register_loader("timestamptz", _IsoTimestamptzLoader)


def bounty_rows_near(
    *,
    lat: float,
    lon: float,
    within_m: float,
    test_mode: bool = False,
    agent: Agent | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Open bounties whose window has not ended, within ``within_m`` of (lat, lon), nearest
    first (only ``agent``'s when given), as rows: each bounty's field values by attribute name
    (``BOUNTY_FIELDS``), ``distance_m`` and ``open_slots``.

    On PostgreSQL one query walks a GiST index nearest-first (KNN) and stops after
    ``offset + limit`` rows, whatever the number of open bounties; rows beyond ``within_m`` are
    dropped afterwards (they come last). Elsewhere (SQLite, in development) a bounding box is
    scanned."""
    if connection.vendor != "postgresql":
        nearby = _bounties_near_scan(
            lat=lat, lon=lon, within_m=within_m, test_mode=test_mode, agent=agent,
            limit=limit, offset=offset,
        )  # fmt: skip
        with_open_slots(near.bounty for near in nearby)
        return [
            {name: getattr(near.bounty, name) for name in BOUNTY_FIELDS}
            | {"distance_m": near.distance_m, "open_slots": near.bounty.open_slots}  # type: ignore[attr-defined]
            for near in nearby
        ]
    now = timezone.now()
    params: dict[str, Any] = {
        "lat": lat, "lon": lon, "now": now, "open": BountyStatus.OPEN.value,
        "active": ClaimStatus.ACTIVE.value, "claims_hold_after": claim_holds_after(now),
        "awaiting": [s.value for s in AWAITING_VERDICT],
        "test_mode": test_mode, "agent_id": agent.pk if agent else None,
        "limit": limit, "offset": offset,
    }  # fmt: skip
    with connection.cursor() as cursor:
        _read_timestamps_fast(cursor.cursor)
        cursor.execute(NEAR_SQL[agent is not None], params)
        fetched = cursor.fetchall()
    rows = []
    for *values, distance_m, reserved in fetched:
        if distance_m > within_m:  # nearest first: the rest are farther still
            break
        row = dict(zip(BOUNTY_FIELDS, values, strict=True))
        if isinstance(row["metadata"], str):  # Django reads jsonb as text
            row["metadata"] = json.loads(row["metadata"])
        row["distance_m"] = float(distance_m)
        row["open_slots"] = slots_left(
            quantity=row["quantity"], accepted_count=row["accepted_count"], reserved=reserved
        )
        rows.append(row)
    return rows


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
    """``bounty_rows_near`` as bounties (``open_slots`` set on each) with their distances."""
    if connection.vendor != "postgresql":
        return _bounties_near_scan(
            lat=lat, lon=lon, within_m=within_m, test_mode=test_mode, agent=agent,
            limit=limit, offset=offset,
        )  # fmt: skip
    nearby = []
    for row in bounty_rows_near(
        lat=lat, lon=lon, within_m=within_m, test_mode=test_mode, agent=agent, limit=limit,
        offset=offset,
    ):  # fmt: skip
        bounty = Bounty.from_db(connection.alias, BOUNTY_FIELDS, [row[n] for n in BOUNTY_FIELDS])
        bounty.open_slots = row["open_slots"]  # type: ignore[attr-defined]
        nearby.append(NearbyBounty(bounty=bounty, distance_m=row["distance_m"]))
    return nearby


def _bounties_near_scan(
    *,
    lat: float,
    lon: float,
    within_m: float,
    test_mode: bool,
    agent: Agent | None,
    limit: int,
    offset: int,
) -> list[NearbyBounty]:
    """SQLite (development): a bounding box, then exact distances in Python."""
    base = Bounty.objects.filter(
        status=BountyStatus.OPEN, ends_at__gt=timezone.now(), is_test=test_mode
    )
    if agent is not None:
        base = base.filter(agent=agent)
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


def open_slots_by_bounty(bounties: Iterable[Bounty]) -> dict[int, int]:
    """Each bounty's open slots by id (``slots_left``; none once it is closed), in two grouped
    queries for the whole page: what is reserved is each claim that holds (``Claim.holding``)
    and each submission awaiting a verdict. ``NEAR_SQL`` counts the same in SQL."""
    rows = list(bounties)
    ids = [bounty.pk for bounty in rows if bounty.is_open]
    claims = dict(
        Claim.objects.holding(timezone.now())
        .filter(bounty_id__in=ids)
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
    return {
        bounty.pk: slots_left(
            quantity=bounty.quantity,
            accepted_count=bounty.accepted_count,
            reserved=claims.get(bounty.pk, 0) + awaiting.get(bounty.pk, 0),
        )
        if bounty.is_open
        else 0
        for bounty in rows
    }


def with_open_slots(bounties: Iterable[Bounty]) -> list[Bounty]:
    """The bounties with ``open_slots`` set (``open_slots_by_bounty``)."""
    rows = list(bounties)
    slots = open_slots_by_bounty(rows)
    for bounty in rows:
        bounty.open_slots = slots[bounty.pk]  # type: ignore[attr-defined]
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


def submissions_awaiting_review(
    agent: Agent, *, bounty_id: int | None = None
) -> QuerySet[Submission]:
    """The agent's submissions waiting for its own judgment (``AWAITING_AGENT``), the oldest
    in review first: the order their deadlines fall in."""
    queryset = (
        Submission.objects.filter(AWAITING_AGENT, bounty__agent=agent)
        .select_related("bounty")
        .order_by("review_started_at", "id")
    )
    if bounty_id is not None:
        queryset = queryset.filter(bounty_id=bounty_id)
    return queryset


class AgentReviewStats(TypedDict):
    decisions: int
    rejection_rate: float
    overturned: int
    overturned_share: float
    cooling_until: datetime | None


def agent_review_stats(agent: Agent, *, now: datetime | None = None) -> AgentReviewStats:
    """How an agent judges what it buys, for workers to see and for the fair-use rule: over its
    last ``REVIEW_FAIR_USE_WINDOW`` decisions, the share it rejected (0.0 with none) and how
    many of those rejections operators overturned on appeal (``overturned_share`` of its
    rejections, 0.0 with none); ``cooling_until`` while it has lost review (else None)."""
    now = now or timezone.now()
    decided = list(
        Submission.objects.filter(bounty__agent=agent, agent_decided_at__isnull=False)
        .order_by("-agent_decided_at", "-id")
        .values_list("agent_verdict", "status", "decided_at")[: settings.REVIEW_FAIR_USE_WINDOW]
    )
    rejected = [row for row in decided if row[0] == SubmissionStatus.REJECTED]
    # A rejection the agent made that is now accepted was overturned: only operators accept an
    # appeal, and the agent's own verdict is kept.
    overturned_at = [at for _, status, at in rejected if status == SubmissionStatus.ACCEPTED]
    overturned_share = len(overturned_at) / len(rejected) if rejected else 0.0
    cooling_until = agent.review_cooling_until
    if (
        len(overturned_at) >= settings.REVIEW_OVERTURN_MIN_COUNT
        and overturned_share > settings.REVIEW_OVERTURN_THRESHOLD
    ):
        last_overturned = max((at for at in overturned_at if at is not None), default=now)
        earned = last_overturned + timedelta(days=settings.REVIEW_COOLING_DAYS)
        cooling_until = max(cooling_until, earned) if cooling_until else earned
    return {
        "decisions": len(decided),
        "rejection_rate": len(rejected) / len(decided) if decided else 0.0,
        "overturned": len(overturned_at),
        "overturned_share": overturned_share,
        "cooling_until": cooling_until if cooling_until and cooling_until > now else None,
    }
