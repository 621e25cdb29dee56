from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from bounties.simulation import photos_in, simulate


class Command(BaseCommand):
    help = (
        "Test mode: simulated workers fulfil open test bounties with the photos in a folder, "
        "through the same services and verification pipeline as people."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--photos", required=True, type=Path, help="a folder of photos")
        parser.add_argument("--bounty", type=int, action="append", help="only these bounty ids")
        parser.add_argument(
            "--leave-reviews",
            action="store_true",
            help="leave submissions that need review for an operator (default: approve them)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["photos"]
        if not folder.is_dir() or not any(photos_in(folder)):
            raise CommandError(f"{folder} is not a folder with photos")
        with tqdm(desc="simulated uploads", unit="photo", disable=options["verbosity"] < 1) as bar:
            outcomes = simulate(
                folder=folder,
                bounty_ids=options["bounty"],
                approve_reviews=not options["leave_reviews"],
            )
            bar.update(len(outcomes))
        for outcome in outcomes:
            if outcome.submission is None:
                line = f"bounty {outcome.bounty.pk}: {outcome.photo.name}: {outcome.error}"
            else:
                reasons = "; ".join(outcome.submission.reasons)
                line = (
                    f"bounty {outcome.bounty.pk}: {outcome.photo.name} -> submission "
                    f"{outcome.submission.pk} {outcome.submission.status} ({reasons})"
                )
            self.stdout.write(line)
        if not outcomes:
            self.stdout.write("No open test bounty has an open slot.")
