"""A real Celery worker (a separate process, fed through Redis) verifies a submission."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from tests.bounties.helpers import funded_bounty, upload
from tests.bounties.photos import DSCN0010_GPS, photo_bytes, with_capture_time
from tests.conftest import make_actor, wait_for

pytestmark = [pytest.mark.celery_worker]


def test_a_worker_process_verifies_submissions_end_to_end(celery_worker) -> None:
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(make_actor().agent, lat=lat, lon=lon, radius_m=100, quantity=3)
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    good = upload(bounty, with_capture_time("DSCN0010.jpg", local))
    broken = upload(bounty, photo_bytes("corrupted.jpg"))

    def decided() -> bool:
        statuses = dict(
            Submission.objects.filter(pk__in=[good.pk, broken.pk]).values_list("pk", "status")
        )
        return statuses[good.pk] == SubmissionStatus.NEEDS_REVIEW and statuses[broken.pk] == (
            SubmissionStatus.REJECTED
        )

    wait_for(decided, timeout=90)
    good.refresh_from_db()
    assert {check["name"] for check in good.checks} >= {"integrity", "location", "time"}
    assert good.events.filter(actor="verification").exists()


def test_the_fast_checks_answer_while_no_verify_worker_runs(celery_workers) -> None:
    celery_workers(queues=["default"])  # the verify machines are down
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(make_actor().agent, lat=lat, lon=lon, radius_m=100, quantity=3)
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    good = upload(bounty, with_capture_time("DSCN0010.jpg", local))
    stale = upload(bounty, with_capture_time("DSCN0012.jpg", local - timedelta(days=3)))

    wait_for(lambda: Submission.objects.get(pk=stale.pk).status == SubmissionStatus.REJECTED)
    stale.refresh_from_db()
    assert {c["name"]: c["status"] for c in stale.checks}["time"] == "failed"
    wait_for(lambda: bool(Submission.objects.get(pk=good.pk).checks))
    good.refresh_from_db()
    assert good.status == SubmissionStatus.VERIFYING  # the model stage waits for its queue
    assert {c["name"] for c in good.checks} == {"integrity", "location", "time", "duplicates"}

    celery_workers(queues=["verify"])  # they are back
    wait_for(lambda: Submission.objects.get(pk=good.pk).status == SubmissionStatus.NEEDS_REVIEW)
    good.refresh_from_db()
    assert {c["name"] for c in good.checks} >= {"relevance", "safety", "provenance"}
    assert good.verify_attempts == 2  # the fast stage, then the model stage
