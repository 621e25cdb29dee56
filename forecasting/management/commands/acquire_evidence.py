"""One active-acquisition cycle by hand: ``manage.py acquire_evidence [--question ID]``."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from forecasting.acquisition import acquire, acquire_all
from forecasting.models import AcquisitionDecision, Question


class Command(BaseCommand):
    help = (
        "Post evidence bounties for uncertain open questions within their owners' budgets "
        "(what beat runs every FORECAST_ACQUISITION_EVERY_SECONDS), and print each decision."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--question", type=int, help="Only this question (any status).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["question"] is not None:
            question = Question.objects.filter(pk=options["question"]).first()
            if question is None:
                raise CommandError(f"No question #{options['question']}")
            decisions = [acquire(question)]
        else:
            decisions = acquire_all()
        for decision in decisions:
            self.stdout.write(self._line(decision))
        posted = sum(1 for d in decisions if d.action == AcquisitionDecision.Action.POSTED)
        self.stdout.write(
            self.style.SUCCESS(f"{len(decisions)} questions considered, {posted} bounties posted")
        )

    def _line(self, decision: AcquisitionDecision) -> str:
        bounty = f" bounty #{decision.bounty_id}" if decision.bounty_id else ""
        return f"question #{decision.question_id}: {decision.action}{bounty} ({decision.reason})"
