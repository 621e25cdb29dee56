"""Each Celery worker process says it is alive, for the health endpoint's workers section.

At once when it is ready to consume (Celery's ``worker_ready``) and then every
``WORKER_HEARTBEAT_SECONDS``, from a thread of its own, for every queue it consumes: a worker
(re)started by supervisord shows as ``ok`` within seconds, and one that died shows as ``stale``
after ``WORKER_HEARTBEAT_STALE_AFTER_BEATS`` missed beats. Beat's heartbeat task
(``market.core.tasks.worker_heartbeat``) still goes through each queue every minute.
"""

import logging
import threading
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import connection

from market.core.services import worker_heartbeat_record

logger = logging.getLogger(__name__)


def worker_alive_record(*, hostname: str, queues: Sequence[str]) -> None:
    """One beat: record ``hostname`` alive on each of ``queues``. A database error is logged
    and the next beat tries again: a heartbeat never stops the worker."""
    try:
        for queue in queues:
            worker_heartbeat_record(queue=queue, hostname=hostname)
    except Exception:  # any driver error: the database may be restarting
        logger.warning("could not record %s alive on %s", hostname, list(queues), exc_info=True)
    finally:
        # This thread's own connection: closed between beats rather than held idle.
        connection.close()


def worker_liveness_start(*, hostname: str, queues: Sequence[str]) -> threading.Thread:
    """Record the worker alive now and every ``WORKER_HEARTBEAT_SECONDS`` from a daemon
    thread (it ends with the process), so the event loop and the pool never wait on it."""
    interval_s = settings.WORKER_HEARTBEAT_SECONDS

    def beat() -> None:
        while True:
            worker_alive_record(hostname=hostname, queues=queues)
            time.sleep(interval_s)

    thread = threading.Thread(target=beat, name="sightline-liveness", daemon=True)
    thread.start()
    return thread
