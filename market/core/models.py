from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker consuming ``queue`` ran the heartbeat task.

    Celery beat sends the heartbeat to each queue every minute, so the health endpoint and the
    operators can tell whether anything is consuming a queue (the GPU ``verify`` workers, say).
    """

    queue = models.CharField(max_length=64)
    hostname = models.CharField(max_length=255)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "hostname"], name="heartbeat_unique_worker")
        ]
        ordering = ("queue", "-seen_at")

    def __str__(self) -> str:
        return f"{self.hostname} on {self.queue} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
