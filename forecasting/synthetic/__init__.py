"""Synthetic questions whose outcomes their evidence photos show, run through the real product,
so the forecasting loop can be run and measured on one machine.

Each question has a latent state (how many will queue outside a shop at closing, how many
people will be in a square, what fraction of a building's windows will be lit at night); its
outcome follows from the state, flipped for ``LABEL_NOISE`` of questions (the world is not a
simulation). Its evidence is procedurally rendered photos of that state (``scenes``), decoys
included, uploaded by simulated test workers to a test bounty through the same services and
verification pipeline as a person's, then collected as evidence and (by default) resolved.

The latent state and outcome are kept in ``question.evidence_template["metadata"]["synthetic"]``
(and so in the metadata of every bounty posted from the template), so photos rendered later for
an auto-posted bounty (``fulfil_open_bounties``) show the same state. Deterministic by seed:
the same seed gives the same questions, states and photos (uploading the same photos twice to
one database is refused as near-duplicates, rightly: use another seed).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from bounties.models import Bounty, BountyStatus, SubmissionStatus
from bounties.services import bounty_create, open_slots
from bounties.simulation import simulated_worker, upload_photo
from forecasting.acquisition import bounty_cost_minor, template_spec
from forecasting.models import Outcome, Question, QuestionBounty, QuestionStatus
from forecasting.services import (
    evidence_collect,
    question_attach_bounty,
    question_create,
    question_resolve,
)
from forecasting.synthetic.scenes import (
    CROWD_THRESHOLD,
    QUEUE_THRESHOLD,
    SCENES,
    render,
)
from market.accounts.models import Agent, User
from market.accounts.services import agent_create, requester_get_or_create
from market.core.errors import ApplicationError
from market.ledger.services import wallet_credit_test_funds

logger = logging.getLogger(__name__)

AGENT_OWNER = "synthetic@sightline.test"
AGENT_NAME = "synthetic-questions"
SOURCE = "synthetic generator"
LABEL_NOISE = 0.07
PRICE_MINOR = 100
STAKE_MINOR = 5_000  # what a right answer is worth to the owner: the acquisition loop weighs it
MAX_ACQUISITION_SPEND_MINOR = 2_000
WORKER_POOL = 40
RADIUS_M = 150
OPEN_GRACE = timedelta(hours=6)
# Time allowed per photo before a question closes: a photo takes ~0.3 s through the pipeline
# here, and one that arrives after closing is refused (the bounty's window ends at closing).
PHOTO_ALLOWANCE = timedelta(seconds=1.5)
CITIES = [(51.5072, -0.1276), (48.8566, 2.3522), (43.4675, 11.8852), (40.4168, -3.7038)]
SHOP_NAMES = [
    "Rosa's Bakery",
    "the Corner Deli",
    "Luca's Gelato",
    "the Night Pharmacy",
    "Bean There Coffee",
    "the Fish Market",
    "Golden Dumplings",
    "the Record Shop",
]
SQUARES = [
    "Piazza Grande",
    "Market Square",
    "Plaza Mayor",
    "Station Square",
    "Cathedral Square",
    "Harbour Square",
]
BUILDINGS = [
    "the Meridian block",
    "Riverside Court",
    "the Old Mill flats",
    "Linden House",
    "the Tower on Elm Street",
    "Harbour View apartments",
]


@dataclass
class SyntheticQuestion:
    question: Question
    scenario: str
    state: dict[str, Any]
    outcome: Outcome
    photos: int = 0  # uploaded
    accepted: int = 0  # became evidence
    decoys: int = 0  # of the uploaded photos, how many were decoys
    refused: int = 0  # uploads the product refused (too late, a near-duplicate of an earlier run)


@dataclass(frozen=True)
class _Plan:
    scenario: str
    state: dict[str, Any]
    outcome: Outcome
    place: str
    lat: float
    lon: float
    photos: int


def _rng(*keys: int) -> np.random.Generator:
    """A generator for one stream of one question. Seeds are hashed first: numpy's generators
    seeded with [seed, index, ...] lists differing in one word give visibly correlated small
    integers (the scenario of consecutive questions came out the same five times running)."""
    digest = hashlib.sha256(":".join(str(key) for key in keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _plan(seed: int, index: int, photos_per_question: tuple[int, int]) -> _Plan:
    rng = _rng(seed, index, 0)
    scenario = sorted(SCENES)[int(rng.integers(len(SCENES)))]
    scene = SCENES[scenario]
    state = scene.draw_state(rng)
    truth = scene.is_yes(state)
    is_yes = (not truth) if rng.random() < LABEL_NOISE else truth
    places = {"queue": SHOP_NAMES, "crowd": SQUARES, "lights": BUILDINGS}[scenario]
    lat, lon = CITIES[int(rng.integers(len(CITIES)))]
    low, high = photos_per_question
    return _Plan(
        scenario=scenario,
        state=state,
        outcome=Outcome.YES if is_yes else Outcome.NO,
        place=places[int(rng.integers(len(places)))],
        lat=round(lat + rng.uniform(-0.02, 0.02), 6),
        lon=round(lon + rng.uniform(-0.02, 0.02), 6),
        photos=int(rng.integers(low, high + 1)),
    )


def _wording(plan: _Plan) -> tuple[str, str, str]:
    """The question's title and resolution criteria, and what an evidence photo must show."""
    place = plan.place
    if plan.scenario == "queue":
        return (
            f"Will more than {QUEUE_THRESHOLD} people be queueing outside {place} at closing?",
            f"Yes if more than {QUEUE_THRESHOLD} people are in the queue outside {place} when "
            "it closes, counted by the shop.",
            f"the queue of people outside {place}, seen from across the street",
        )
    if plan.scenario == "crowd":
        return (
            f"Will more than {CROWD_THRESHOLD} people be in {place} at noon?",
            f"Yes if the noon count of people in {place} is over {CROWD_THRESHOLD}.",
            f"the whole of {place} and the people in it, from above",
        )
    return (
        f"Will most of the lights be on in {place} at midnight?",
        f"Yes if more than half of the windows of {place} are lit at midnight.",
        f"the front of {place} at night, all its windows in view",
    )


def evidence_template(plan: _Plan, *, seed: int, index: int) -> dict[str, Any]:
    """The bounty to post for evidence, in the API's field names (see
    ``forecasting.acquisition.template_spec``), carrying the latent state for later photos."""
    _, _, verify = _wording(plan)
    return {
        "title": f"Photo: {verify}"[:200],
        "verify": verify,
        "instructions": "One clear photo from where you stand; do not wait for a better moment.",
        "lat": plan.lat,
        "lon": plan.lon,
        "radius_m": RADIUS_M,
        "price": PRICE_MINOR,
        "quantity": 2,
        "blur_faces": False,  # drawn figures have no faces, and detection costs ~0.1 s a photo
        "metadata": {
            "synthetic": {
                "scenario": plan.scenario,
                "state": plan.state,
                "outcome": plan.outcome.value,
                "seed": seed,
                "index": index,
            }
        },
    }


def synthetic_agent() -> Agent:
    """The test-mode agent that asks synthetic questions (created once)."""
    with transaction.atomic():
        owner, _ = requester_get_or_create(email=AGENT_OWNER)
        existing = Agent.objects.filter(owner=owner, name=AGENT_NAME).first()
        if existing is not None:
            return existing
        # Its spending is bounded by the test funds credited per bounty, not by a daily cap.
        return agent_create(
            owner=owner, name=AGENT_NAME, is_test=True, daily_spend_cap_minor=10**12
        )


class _Workers:
    """The simulated worker pool, fetched (or created) once per run, before any thread starts."""

    def __init__(self) -> None:
        self._pool = [simulated_worker(index) for index in range(1, WORKER_POOL + 1)]

    def pick(self, rng: np.random.Generator, count: int, exclude: set[int]) -> list[User]:
        order = rng.permutation(WORKER_POOL)
        return [self._pool[i] for i in order if self._pool[i].pk not in exclude][:count]


class _Clock:
    """Closing times, strictly increasing in the order questions are created (the training
    loop splits its data by time), across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def closes_at(self, after: timedelta) -> datetime:
        with self._lock:
            closes_at = timezone.now() + after
            if self._last is not None and closes_at <= self._last:
                closes_at = self._last + timedelta(milliseconds=1)
            self._last = closes_at
            return closes_at


@contextmanager
def _relaxed_commits() -> Iterator[None]:
    """Commit without waiting for the WAL flush: synthetic data can lose its last milliseconds
    in a crash, and the generator runs ~30% faster (one session setting, PostgreSQL only)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _upload(
    bounty: Bounty,
    state_holder: dict[str, Any],
    rng: np.random.Generator,
    workers: _Workers,
    count: int,
    taken_before: datetime,
) -> tuple[int, int, int, int]:
    """Render and upload ``count`` photos of the stored state: (uploaded, accepted, decoys,
    refused)."""
    used = set(bounty.submissions.values_list("worker_id", flat=True))
    uploaded = accepted = decoys = refused = 0
    for worker in workers.pick(rng, count, used):
        photo = render(state_holder["scenario"], state_holder["state"], rng)
        try:
            submission = upload_photo(
                bounty=bounty, worker=worker, photo=photo.jpeg, name=f"{photo.scene}.jpg",
                taken_at=min(timezone.now(), taken_before),
            )  # fmt: skip
        except ApplicationError as error:
            logger.warning("synthetic upload to bounty %s refused: %s", bounty.pk, error.message)
            refused += 1
            continue
        uploaded += 1
        decoys += photo.kind != "scene"
        if submission.status == SubmissionStatus.ACCEPTED:
            accepted += 1
        else:
            logger.warning("synthetic photo %s %s: %s", submission.pk, submission.status,
                           "; ".join(submission.reasons))  # fmt: skip
    return uploaded, accepted, decoys, refused


def _post_bounty(question: Question, quantity: int, seed: int, index: int) -> Bounty:
    spec = template_spec(question, now=timezone.now())
    spec = replace(
        spec, quantity=quantity, metadata={**(spec.metadata or {}), "auto_posted": False}
    )
    wallet_credit_test_funds(
        agent=question.agent,
        amount_minor=bounty_cost_minor(spec),
        idempotency_key=f"synthetic:{seed}:{index}:{question.pk}",
        memo="synthetic question evidence",
    )
    bounty = bounty_create(agent=question.agent, spec=spec)
    question_attach_bounty(question=question, bounty=bounty)
    return bounty


def generate(
    *,
    count: int,
    photos_per_question: tuple[int, int] = (1, 5),
    seed: int = 0,
    agent: Agent | None = None,
    resolve: bool = True,
    grace_seconds: float = 2.0,
    progress: Callable[[SyntheticQuestion], None] | None = None,
    threads: int = 1,
    sleep: Callable[[float], None] | None = None,
) -> list[SyntheticQuestion]:
    """``count`` synthetic questions with their evidence, through the real services, in index
    order.

    Each question closes ``grace_seconds`` plus ``PHOTO_ALLOWANCE`` per planned photo after it
    is created (``OPEN_GRACE`` when not resolving, so the acquisition loop can work on it),
    strictly later than the one created before; its photos are uploaded and collected before
    it closes. With ``resolve``, this waits until the last question has closed and resolves
    them all with their outcome (waiting through ``sleep``, ``time.sleep`` unless given: tests
    move a fake clock instead). ``threads`` > 1 generates questions concurrently (states and
    photos stay the same; the order of closing times then follows the order of creation)."""
    low, high = photos_per_question
    if not 0 <= low <= high:
        raise ValueError("photos_per_question must be (min, max) with 0 <= min <= max")
    if threads > 1 and connection.vendor == "sqlite":
        raise ValueError("threads need PostgreSQL: SQLite takes one writer at a time")
    agent = agent or synthetic_agent()
    workers, clock = _Workers(), _Clock()

    def one(index: int) -> SyntheticQuestion:
        plan = _plan(seed, index, photos_per_question)
        grace = timedelta(seconds=grace_seconds) + plan.photos * PHOTO_ALLOWANCE
        with _relaxed_commits():
            return _generate_one(
                plan, agent, seed=seed, index=index, workers=workers,
                closes_at=clock.closes_at(grace if resolve else OPEN_GRACE),
            )  # fmt: skip

    generated: list[SyntheticQuestion] = []
    if threads <= 1:
        for index in range(count):
            generated.append(one(index))
            if progress is not None:
                progress(generated[-1])
    else:
        by_index: dict[int, SyntheticQuestion] = {}
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = {pool.submit(_in_thread, one, index): index for index in range(count)}
            for future in as_completed(futures):
                by_index[futures[future]] = future.result()
                if progress is not None:
                    progress(by_index[futures[future]])
        generated = [by_index[index] for index in range(count)]
    if resolve and generated:
        resolve_closed([item.question for item in generated], wait=True, sleep=sleep)
    return generated


def _in_thread(function: Callable[[int], SyntheticQuestion], index: int) -> SyntheticQuestion:
    try:
        return function(index)
    finally:
        connection.close()  # each thread has its own connection: give it back


def _generate_one(
    plan: _Plan, agent: Agent, *, seed: int, index: int, workers: _Workers, closes_at: datetime
) -> SyntheticQuestion:
    title, criteria, _ = _wording(plan)
    template = evidence_template(plan, seed=seed, index=index)
    question = question_create(
        agent=agent, title=title, resolution_criteria=criteria, closes_at=closes_at,
        resolves_at=closes_at, lat=plan.lat, lon=plan.lon, evidence_template=template,
        stake_minor=STAKE_MINOR, max_acquisition_spend_minor=MAX_ACQUISITION_SPEND_MINOR,
    )  # fmt: skip
    item = SyntheticQuestion(question, plan.scenario, plan.state, plan.outcome)
    if plan.photos:
        bounty = _post_bounty(question, plan.photos, seed, index)
        synthetic = template["metadata"]["synthetic"]
        item.photos, item.accepted, item.decoys, item.refused = _upload(
            bounty, synthetic, _rng(seed, index, 1), workers, plan.photos, closes_at
        )
        evidence_collect(question=question)
    return item


def fulfil_open_bounties(questions: Iterable[Question], seed: int) -> int:
    """Fill the open slots of the open test bounties of synthetic ``questions`` (those the
    acquisition loop posted, say) with photos consistent with each question's latent state, then
    collect the evidence. Returns how many photos were uploaded."""
    workers = _Workers()
    uploaded = 0
    for question in questions:
        synthetic = (question.evidence_template.get("metadata") or {}).get("synthetic")
        if not synthetic or question.status != QuestionStatus.OPEN:
            continue
        bounties = Bounty.objects.filter(
            pk__in=QuestionBounty.objects.filter(question=question).values("bounty"),
            status=BountyStatus.OPEN,
            is_test=True,
        ).order_by("pk")
        for bounty in bounties:
            slots = open_slots(bounty)
            if slots <= 0 or bounty.ends_at <= timezone.now():
                continue
            rng = _rng(seed, question.pk, bounty.pk)
            done, _, _, _ = _upload(
                bounty, synthetic, rng, workers, slots, min(bounty.ends_at, question.closes_at)
            )
            uploaded += done
        evidence_collect(question=question)
    return uploaded


def resolve_closed(
    questions: Iterable[Question],
    *,
    wait: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Resolve the synthetic ``questions`` that have closed with their stored outcome (with
    ``wait``, first sleep until the last of them has closed: ``sleep``, ``time.sleep`` unless
    given). Returns how many were resolved now."""
    pending = [q for q in questions if (q.evidence_template.get("metadata") or {}).get("synthetic")]
    if wait and pending:
        remaining = (max(q.closes_at for q in pending) - timezone.now()).total_seconds()
        if remaining > 0:
            (sleep or time.sleep)(remaining + 0.01)
    resolved = 0
    now = timezone.now()
    for question in pending:
        if question.status != QuestionStatus.OPEN or question.closes_at > now:
            continue
        outcome = Outcome(question.evidence_template["metadata"]["synthetic"]["outcome"])
        question_resolve(question=question, outcome=outcome, source=SOURCE, actor=SOURCE)
        question.refresh_from_db()
        resolved += 1
    return resolved
