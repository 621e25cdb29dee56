"""A claim storm on one bounty while photos of that bounty are being accepted, with real threads
on PostgreSQL: claims lock the bounty row, and so does a verdict; the delivery (decode, blur,
encode, store, sign) runs after the verdict commits, so claims never wait for it."""

import statistics
import threading
import time
from typing import Any
from unittest import mock

import pytest

import verification.delivery_copy
from bounties.models import Receipt, SubmissionStatus
from bounties.services import claim_create, claim_release, submission_decide
from bounties.tasks import submission_check_fast
from tests.bounties.helpers import funded_bounty, submit
from tests.concurrency import run_concurrently
from tests.conftest import make_actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right

pytestmark = pytest.mark.django_db(transaction=True)

DELIVERY_DELAY_S = 2.0  # injected into each delivery copy: a large photo's decode, blur, encode
ACCEPTS = 3
CLAIMERS = 4
# Claims must not be serialized behind deliveries: a claim that waited for one would take about
# the delivery's time (the p99 of those that overlap one would be ~1x the delay); claims that do
# not wait take a few milliseconds. Half the delay leaves a loaded box a wide margin.
MAX_P99_TO_DELAY = 0.5


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def test_claims_on_a_bounty_are_not_held_up_by_the_delivery_of_its_accepted_photos() -> None:
    bounty = funded_bounty(make_actor().agent, quantity=1 + ACCEPTS + CLAIMERS)
    with mock.patch.object(submission_check_fast, "delay", autospec=True):  # verdicts: ours
        warm_up, *submissions = [submit(bounty, UserFactory()) for _ in range(1 + ACCEPTS)]
    # A worker in service has imported what a verdict and a delivery need; this one too.
    submission_decide(submission=warm_up, accept=True, reasons=[], actor="test")
    claimers = [UserFactory() for _ in range(CLAIMERS)]
    deliveries: list[tuple[float, float]] = []
    claims: list[tuple[float, float]] = []
    accepting_done = threading.Event()
    record = threading.Lock()
    real_copy = verification.delivery_copy.delivery_jpeg

    def slow_copy(*args: Any, **kwargs: Any) -> bytes:
        started = time.perf_counter()
        time.sleep(DELIVERY_DELAY_S)
        copy = real_copy(*args, **kwargs)
        with record:
            deliveries.append((started, time.perf_counter()))
        return copy

    def accept_all() -> None:
        try:
            for submission in submissions:  # each delivery runs on commit, eagerly, here
                submission_decide(submission=submission, accept=True, reasons=[], actor="test")
        finally:
            accepting_done.set()

    def claim_and_release(worker_index: int) -> None:
        worker = claimers[worker_index]
        while not accepting_done.is_set():
            started = time.perf_counter()
            claim = claim_create(bounty=bounty, worker=worker)
            ended = time.perf_counter()
            claim_release(claim=claim, worker=worker)
            with record:
                claims.append((started, ended))
            time.sleep(0.01)

    with mock.patch.object(verification.delivery_copy, "delivery_jpeg", side_effect=slow_copy):
        _, errors = run_concurrently(
            lambda index: accept_all() if index == CLAIMERS else claim_and_release(index),
            threads=CLAIMERS + 1,
        )

    assert not errors, errors
    assert len(deliveries) == ACCEPTS
    # The claims made while a delivery was running: the ones a lock held by it would delay.
    overlapping = [
        ended - started
        for started, ended in claims
        if any(start < ended and started < end for start, end in deliveries)
    ]
    assert len(overlapping) >= 2 * CLAIMERS, (len(overlapping), len(claims))
    ratio = p99(overlapping) / DELIVERY_DELAY_S
    assert ratio < MAX_P99_TO_DELAY, (
        f"claims waited for deliveries: p99 {p99(overlapping):.3f}s "
        f"for a {DELIVERY_DELAY_S}s delivery"
    )
    for submission in submissions:
        submission.refresh_from_db()
        assert submission.status == SubmissionStatus.ACCEPTED
    assert Receipt.objects.filter(submission__in=submissions).count() == ACCEPTS
    bounty.refresh_from_db()
    assert bounty.accepted_count == 1 + ACCEPTS
    assert_books_are_right()
