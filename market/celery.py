"""The Celery application.

With no ``CELERY_BROKER_URL`` configured, tasks run in-process (eagerly); with one, they go
through the broker to worker processes. Two queues: ``default`` and ``verify`` (routed so that
GPU machines can consume ``verify`` alone).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "market.settings")

app = Celery("market")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
