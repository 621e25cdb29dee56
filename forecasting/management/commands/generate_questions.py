import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from forecasting.models import Question, QuestionStatus
from forecasting.synthetic import (
    SyntheticQuestion,
    fulfil_open_bounties,
    generate,
    resolve_closed,
    synthetic_agent,
)


def photo_range(value: str) -> tuple[int, int]:
    """ "3" or "1-5" as (min, max)."""
    low, _, high = value.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError as error:
        raise ValueError(f"--photos takes N or MIN-MAX, got {value!r}") from error
    if not 0 <= bounds[0] <= bounds[1]:
        raise ValueError(f"--photos takes N or MIN-MAX with 0 <= MIN <= MAX, got {value!r}")
    return bounds


class Command(BaseCommand):
    help = (
        "Synthetic questions whose outcomes their evidence photos show (queues, crowds, lights "
        "at night), rendered procedurally and uploaded by simulated test workers through the "
        "real pipeline, then resolved: a dataset for the forecasting loop. With --fulfil: "
        "photograph the open bounties of open synthetic questions (the acquisition loop's) "
        "and resolve those that have closed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, help="how many questions")
        parser.add_argument("--photos", default="1-5", help="photos per question: N or MIN-MAX")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--grace-seconds", type=float, default=2.0,
            help="each question closes this long (plus a little per photo) after it is created",
        )  # fmt: skip
        parser.add_argument(
            "--threads", type=int, default=1, help="generate this many questions at once"
        )
        parser.add_argument(
            "--open", action="store_true",
            help="leave the questions open (closing in hours) for the acquisition loop",
        )  # fmt: skip
        parser.add_argument(
            "--fulfil", action="store_true",
            help="generate nothing: fill open bounties of open synthetic questions, resolve "
            "the closed ones",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("generate_questions is for development and test mode")
        if options["fulfil"]:
            self._fulfil(options["seed"])
            return
        if options["count"] is None or options["count"] < 1:
            raise CommandError("--count must be at least 1")
        try:
            photos = photo_range(options["photos"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        started = time.perf_counter()
        with tqdm(
            total=options["count"], desc="questions", unit="q", disable=options["verbosity"] < 1
        ) as bar:

            def progress(item: SyntheticQuestion) -> None:
                bar.update(1)

            try:
                generated = generate(
                    count=options["count"], photos_per_question=photos, seed=options["seed"],
                    resolve=not options["open"], grace_seconds=options["grace_seconds"],
                    progress=progress, threads=options["threads"],
                )  # fmt: skip
            except ValueError as error:
                raise CommandError(str(error)) from error
        elapsed = time.perf_counter() - started
        outcomes = Counter(item.outcome.value for item in generated)
        scenarios = Counter(item.scenario for item in generated)
        uploaded = sum(item.photos for item in generated)
        accepted = sum(item.accepted for item in generated)
        decoys = sum(item.decoys for item in generated)
        refused = sum(item.refused for item in generated)
        state = "left open" if options["open"] else "resolved"
        self.stdout.write(
            f"{len(generated)} questions {state} ({outcomes['yes']} yes, {outcomes['no']} no; "
            + ", ".join(f"{count} {name}" for name, count in sorted(scenarios.items()))
            + f"), {uploaded} photos uploaded, {accepted} accepted as evidence, {decoys} decoys, "
            f"{refused} refused, "
            f"in {elapsed:.1f} s ({len(generated) / elapsed:.2f} questions/s, "
            f"{uploaded / elapsed:.1f} photos/s)"
        )

    def _fulfil(self, seed: int) -> None:
        open_questions = Question.objects.filter(
            agent=synthetic_agent(), status=QuestionStatus.OPEN
        ).order_by("pk")
        uploaded = fulfil_open_bounties(list(open_questions), seed)
        resolved = resolve_closed(list(open_questions))
        self.stdout.write(
            f"{uploaded} photos uploaded to open bounties of synthetic questions; "
            f"{resolved} closed questions resolved"
        )
