"""Reads for bounties: the nearest-open-bounties search shared by the API and the website."""

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from bounties.models import (
    AWAITING_VERDICT,
    Bounty,
    BountyStatus,
    Claim,
    ClaimStatus,
    Submission,
    SubmissionStatus,
    claim_holds_after,
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


@functools.cache
def _iso_timestamptz_loader(django_loader: type) -> type:
    """``django_loader`` (Django's timestamptz loader, built on psycopg's pure-Python parser)
    reading through ``datetime.fromisoformat`` (C): a search reads five timestamps a row."""

    class IsoTimestamptzLoader(django_loader):
        def load(self, data: Any) -> Any:
            try:
                parsed = datetime.fromisoformat(bytes(data).decode())
            except ValueError:  # what fromisoformat cannot read (BC, infinity): Django's way
                return super().load(data)
            return parsed.replace(tzinfo=self.timezone)  # as Django's loader does

    return IsoTimestamptzLoader


def _read_timestamps_fast(cursor: Any) -> None:
    """On this psycopg cursor only, timestamptz columns load as Django's loader loads them."""
    from psycopg.pq import Format  # PostgreSQL only

    adapters = cursor.adapters
    oid = adapters.types["timestamptz"].oid
    loader = adapters.get_loader(oid, Format.TEXT)
    adapters.register_loader(oid, _iso_timestamptz_loader(loader))


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
        row["open_slots"] = max(0, row["quantity"] - row["accepted_count"] - reserved)
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


def with_open_slots(bounties: Iterable[Bounty]) -> list[Bounty]:
    """The bounties with ``open_slots`` set: quantity - accepted - active claims - submissions
    awaiting a verdict (two grouped queries for the whole page)."""
    rows = list(bounties)
    ids = [bounty.pk for bounty in rows if bounty.is_open]
    now = timezone.now()
    claims = dict(
        Claim.objects.holding(now)
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
