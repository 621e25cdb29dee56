"""A real Celery worker, fed through Redis, runs tasks on both queues against PostgreSQL."""

import pytest
from django.test import Client

from market.core.models import WorkerHeartbeat
from market.core.tasks import worker_heartbeat
from tests.conftest import wait_for
from tests.factories import OperatorFactory

pytestmark = [pytest.mark.celery_worker]


def test_a_worker_consumes_both_queues_and_health_reports_it(celery_worker) -> None:
    for queue in ("default", "verify"):
        worker_heartbeat.apply_async(kwargs={"queue": queue}, queue=queue)
    wait_for(lambda: WorkerHeartbeat.objects.count() == 2)
    heartbeats = {beat.queue: beat.hostname for beat in WorkerHeartbeat.objects.all()}
    assert set(heartbeats) == {"default", "verify"}
    assert all(hostname.startswith("test-") for hostname in heartbeats.values())

    operator = Client()
    operator.force_login(OperatorFactory())  # the details are for operators
    health = operator.get("/api/v1/health/").json()
    queues = health["components"]["workers"]["queues"]
    assert queues["default"]["status"] == queues["verify"]["status"] == "ok"


def test_verification_tasks_are_routed_to_the_verify_queue() -> None:
    from market.celery import app

    route = app.amqp.router.route({}, "verification.tasks.verify_submission")
    assert route["queue"].name == "verify"
    route = app.amqp.router.route({}, "bounties.tasks.submission_verify")
    assert route["queue"].name == "verify"
    assert (
        app.amqp.router.route({}, "market.core.tasks.worker_heartbeat")["queue"].name == "default"
    )
