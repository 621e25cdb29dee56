from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from forecasting.services.training import training_cycle


class Command(BaseCommand):
    help = (
        "One turn of the forecasting loop by hand: build the time-ordered dataset, search "
        "hyperparameters within the budget, judge the challenger on held-out later questions "
        "against the champion and the baselines, and promote it only past the margin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trials", type=int, help="hyperparameter settings to try")
        parser.add_argument("--budget-seconds", type=float, help="compute budget of the search")
        parser.add_argument("--margin", type=float, help="log-loss improvement needed")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--as-of", type=datetime.fromisoformat, help="backtest: only what was resolved then"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        bars: dict[str, tqdm] = {}
        quiet = options["verbosity"] < 1

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=stage, disable=quiet, leave=False)
            bar.n = done
            bar.refresh()

        try:
            result = training_cycle(
                as_of=options["as_of"], trials=options["trials"],
                budget_seconds=options["budget_seconds"], margin=options["margin"],
                seed=options["seed"], progress=progress,
            )  # fmt: skip
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        finally:
            for bar in bars.values():
                bar.close()
        if result.version is None:
            self.stdout.write(result.reason)
            return
        version = result.version
        metrics = version.metrics
        self.stdout.write(f"{version.name}: {version.decision}")
        for name in ("challenger", "champion", "base_rate", "without_evidence"):
            if name in metrics:
                row = metrics[name]
                self.stdout.write(
                    f"  {name:<17} log loss {row['log_loss']:.4f}  Brier {row['brier']:.4f}  "
                    f"ECE {row['ece']:.4f}"
                )
        self.stdout.write(f"  trained in {version.training_seconds:.1f} s on {version.device}")
