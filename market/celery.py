"""The Celery application.

With no ``CELERY_BROKER_URL`` configured, tasks run in-process (eagerly); with one, they go
through the broker to worker processes. Three queues: ``default``, ``verify`` (routed so that
GPU machines can consume ``verify`` alone) and ``training``. Each worker process records itself
alive for the health endpoint from the moment it is ready (``market.core.heartbeats``).
"""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "market.settings")

app = Celery("market")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _worker_liveness_start(sender: Any, **kwargs: Any) -> None:
    """``sender``: the worker's consumer, connected and consuming its queues."""
    # Imported here: this module loads before Django's apps (it configures Celery from the
    # settings); by the time a worker is ready they are.
    from market.core.heartbeats import worker_liveness_start

    queues = sorted(queue.name for queue in sender.task_consumer.queues)
    worker_liveness_start(hostname=sender.hostname, queues=queues)
