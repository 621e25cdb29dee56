"""Reads for operations: the health of the database, the broker, workers and the vision model."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from market.celery import app as celery_app
from market.core.models import WorkerHeartbeat

HEARTBEAT_FORGOTTEN_AFTER = timedelta(days=1)
HEALTH_UP = "up"
HEALTH_DEGRADED = "degraded"


def _database_status() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the detail helps operators
        return {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok", "vendor": connection.vendor}


def _broker_status() -> dict[str, Any]:
    if celery_app.conf.task_always_eager:
        return {
            "status": "ok",
            "mode": "in-process",
            "detail": "no broker: tasks run in-process",
        }
    try:
        with celery_app.connection_for_write(connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises transport-specific errors
        return {
            "status": "error",
            "mode": "broker",
            "detail": f"{type(exc).__name__}: {exc}",
        }
    return {"status": "ok", "mode": "broker", "transport": conn.transport_cls}


def _workers_status() -> dict[str, Any]:
    """Each queue's worker processes, from their heartbeats: ``ok`` while any of them beat
    within the last few intervals, ``stale`` when none did, ``unknown`` when none beat within
    ``HEARTBEAT_FORGOTTEN_AFTER`` (a process replaced long ago, under another hostname, drops
    off the list). Queues in ``WORKER_QUEUES`` are always listed; others (``training``) once a
    worker beat."""
    if celery_app.conf.task_always_eager:
        return {"status": "ok", "detail": "tasks run in-process", "queues": {}}
    stale_after_s = settings.WORKER_HEARTBEAT_SECONDS * settings.WORKER_HEARTBEAT_STALE_AFTER_BEATS
    now = timezone.now()
    stale_before = now - timedelta(seconds=stale_after_s)
    recent = WorkerHeartbeat.objects.filter(seen_at__gte=now - HEARTBEAT_FORGOTTEN_AFTER)
    processes: dict[str, list[dict[str, Any]]] = {queue: [] for queue in settings.WORKER_QUEUES}
    for heartbeat in recent.order_by("queue", "-seen_at"):
        processes.setdefault(heartbeat.queue, []).append(
            {
                "hostname": heartbeat.hostname,
                "status": "stale" if heartbeat.seen_at < stale_before else "ok",
                "last_seen": heartbeat.seen_at.isoformat(),
            }
        )
    queues: dict[str, Any] = {}
    for queue, beats in processes.items():
        if not beats:
            queues[queue] = {"status": "unknown", "last_seen": None, "processes": []}
            continue
        latest = beats[0]
        queues[queue] = {
            "status": "ok" if any(beat["status"] == "ok" for beat in beats) else "stale",
            "last_seen": latest["last_seen"],
            "hostname": latest["hostname"],
            "processes": beats,
        }
    # Workers being late does not make the API unhealthy: submissions wait in the queue.
    return {"status": "ok", "queues": queues}


def _vision_model_status() -> dict[str, Any]:
    model_dir = settings.VISION_MODEL_DIR
    if not model_dir:
        return {
            "status": "ok",
            "mode": "not_configured",
            "detail": "VISION_MODEL_DIR is not set: the relevance check is skipped",
        }
    if not (Path(model_dir) / "config.json").is_file():
        return {
            "status": "error",
            "mode": "missing",
            "detail": f"VISION_MODEL_DIR={model_dir} has no config.json",
        }
    return {"status": "ok", "mode": "configured", "directory": model_dir}


def system_health() -> dict[str, Any]:
    """Each component's status, and ``up`` only when every component is ok (else
    ``degraded``)."""
    components = {
        "database": _database_status(),
        "broker": _broker_status(),
        "workers": _workers_status(),
        "vision_model": _vision_model_status(),
    }
    healthy = all(part["status"] == "ok" for part in components.values())
    return {"status": HEALTH_UP if healthy else HEALTH_DEGRADED, "components": components}
