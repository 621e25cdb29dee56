"""Reads for operations: the health of the database, the broker, workers and the vision model."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from market.celery import app as celery_app
from market.core.models import WorkerHeartbeat

HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
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
    if celery_app.conf.task_always_eager:
        return {"status": "ok", "detail": "tasks run in-process", "queues": {}}
    now = timezone.now()
    queues: dict[str, Any] = {}
    for queue in settings.WORKER_QUEUES:
        latest = WorkerHeartbeat.objects.filter(queue=queue).order_by("-seen_at").first()
        if latest is None:
            queues[queue] = {"status": "unknown", "last_seen": None}
        else:
            stale = now - latest.seen_at > HEARTBEAT_STALE_AFTER
            queues[queue] = {
                "status": "stale" if stale else "ok",
                "last_seen": latest.seen_at.isoformat(),
                "hostname": latest.hostname,
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
