"""Writes for operations data."""

from django.db import transaction
from django.utils import timezone

from market.core.models import WorkerHeartbeat


@transaction.atomic
def worker_heartbeat_record(*, queue: str, hostname: str) -> WorkerHeartbeat:
    """Record that ``hostname`` consumed ``queue`` now: one row per worker and queue."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        queue=queue, hostname=hostname, defaults={"seen_at": timezone.now()}
    )
    return heartbeat
