from typing import Any

from celery import shared_task

from market.core.services import worker_heartbeat_record


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat(self: Any, *, queue: str) -> None:
    """Sent to each queue by beat: proves a worker consumes it."""
    worker_heartbeat_record(queue=queue, hostname=self.request.hostname or "in-process")
