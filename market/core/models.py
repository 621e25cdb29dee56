from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker process consuming ``queue`` said it was alive.

    Each worker process writes its rows when it is ready and then every
    ``WORKER_HEARTBEAT_SECONDS`` (``market.core.heartbeats``), and beat's heartbeat task through
    each queue every minute refreshes them, so the health endpoint and the operators can tell
    whether anything is consuming a queue (the GPU ``verify`` workers, say).
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


class IdempotencyRecord(models.Model):
    """The first response to a POST made with an ``Idempotency-Key``, replayed for 24 hours.

    ``principal`` says whose key it is (``agent:12``), so two agents may use the same key.
    """

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    in_progress = models.BooleanField(default=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    locked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotency_unique_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"
