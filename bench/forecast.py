"""The forecasting loop, measured end to end on synthetic questions (bench/README.md).

    .venv/bin/python bench/forecast.py [--iterations 4] [--batch 60] [--held-out 60]

A fresh database; held-out questions are generated first and left open (the loop never trains
on them; the bench knows how they resolve). Then each iteration the market gathers and resolves
a new batch of questions through the real pipeline (procedural photos uploaded by simulated
workers, verified, collected as evidence), and one training cycle runs (search, judge, promote
only past the margin). After each iteration the held-out questions are forecast exactly as an
agent would be served (``forecast_compute``), and scored against the two baselines: the base
rate of resolved questions, and the same model trained without evidence in that cycle.
Writes bench/results/forecast.json, bench/results/forecast.png and the README table.
"""

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "sightline_benchforecast"
os.environ.update({
    "DJANGO_SETTINGS_MODULE": "market.settings",
    "DJANGO_ENV": "development",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "CELERY_BROKER_URL": "",  # tasks run in-process: the pipeline verifies as it uploads
    "FORECAST_MIN_QUESTIONS": "30",
})  # fmt: skip
os.environ.setdefault("FORECAST_MODEL_DIR", tempfile.mkdtemp(prefix="sightline-forecast-"))

import django  # noqa: E402

from bench.common import psql  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "forecast.json"
PLOT = ROOT / "bench" / "results" / "forecast.png"


def held_out_scores(held_out: list[Any], version: Any) -> dict[str, Any]:
    """The served forecast, the base rate and the cycle's without-evidence model on the
    held-out questions."""
    from forecasting import baseline, dataset
    from forecasting.selectors import resolved_counts
    from forecasting.services.forecasts import forecast_compute
    from forecasting.services.training import BLIND_ARTIFACT
    from forecasting.text import get_text_encoder, question_text
    from forecasting.train import collate, load, reliability, scores

    outcomes = [1.0 if item.outcome == "yes" else 0.0 for item in held_out]
    served = [forecast_compute(question=item.question) for item in held_out]
    base = baseline.base_rate(*resolved_counts()).probability
    blind = load(Path(version.artifact_path).parent / BLIND_ARTIFACT)
    texts = get_text_encoder().encode(
        [question_text(i.question.title, i.question.resolution_criteria) for i in held_out]
    )
    examples = [
        dataset.example_for(item.question, [], text, image_dim=blind.config.image_dim,
                            embedding_model=version.embedding_model)
        for item, text in zip(held_out, texts.tolist(), strict=True)
    ]  # fmt: skip
    blind_p = [float(p) for p in blind.predict(collate(examples, blind.config)[0])[0]]
    probabilities = [forecast.probability for forecast in served]
    return {
        "champion": {**scores(probabilities, outcomes),
                     "reliability": reliability(probabilities, outcomes)},
        "base_rate": scores([base] * len(outcomes), outcomes),
        "without_evidence": scores(blind_p, outcomes),
        "served_by": sorted({forecast.model_version for forecast in served}),
        "mean_interval_width": sum(f.interval_high - f.interval_low for f in served) / len(served),
    }  # fmt: skip


def acquire_for(held_out: list[Any], *, seed: int) -> dict[str, Any]:
    """The active-acquisition step on the open (held-out) questions: re-forecast them with the
    current champion, let the loop post evidence bounties where more evidence is worth its
    cost, and have simulated workers photograph each question's true state for them."""
    from collections import Counter

    from forecasting.acquisition import acquire_all
    from forecasting.services.forecasts import forecast_compute
    from forecasting.synthetic import (
        MAX_ACQUISITION_SPEND_MINOR,
        fulfil_open_bounties,
        synthetic_agent,
    )
    from market.ledger.services import wallet_credit_test_funds

    # the owner's wallet holds each held-out question's acquisition budget (test funds, once)
    wallet_credit_test_funds(
        agent=synthetic_agent(), amount_minor=len(held_out) * MAX_ACQUISITION_SPEND_MINOR,
        idempotency_key="bench-forecast-acquisition",
    )  # fmt: skip
    for item in held_out:
        forecast_compute(question=item.question)
    decisions = acquire_all()

    photos = fulfil_open_bounties([item.question for item in held_out], seed=50_000 + seed)
    return {
        "posted": sum(1 for d in decisions if d.action == "posted"),
        "spent_minor": sum(d.cost_minor for d in decisions if d.action == "posted"),
        "skipped": dict(Counter(d.reason.split(":")[0] for d in decisions if d.action != "posted")),
        "photos_uploaded": photos,
    }


def plot(results: dict[str, Any]) -> None:

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4), dpi=100)
    FigureCanvasAgg(figure)
    rows = results["iterations"]
    xs = [row["resolved_questions"] for row in rows]
    for column, metric in enumerate(("brier", "log_loss")):
        axes = figure.add_subplot(1, 3, column + 1)
        for key, label in (
            ("champion", "champion (served)"),
            ("base_rate", "base rate"),
            ("without_evidence", "model without evidence"),
        ):
            axes.plot(xs, [row["held_out"][key][metric] for row in rows], marker="o",
                      label=label)  # fmt: skip
        axes.set_xlabel("resolved questions trained on")
        axes.set_title(f"held-out {metric.replace('_', ' ')}")
        axes.grid(alpha=0.3)
        if column == 0:
            axes.legend(fontsize=8)
    axes = figure.add_subplot(1, 3, 3)
    points = rows[-1]["held_out"]["champion"]["reliability"]
    axes.plot([0, 1], [0, 1], "--", color="grey")
    axes.plot([p["forecast"] for p in points], [p["observed"] for p in points], marker="o")
    axes.set_xlabel("forecast P(yes)")
    axes.set_ylabel("share resolved yes")
    axes.set_title("final champion: calibration (held out)")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(PLOT, format="png")


def write_readme(results: dict[str, Any]) -> None:
    from bench.readme import replace_section

    lines = [
        "## forecast: the closed loop on synthetic questions (`bench/forecast.py`)",
        "",
        f"Run {results['ran_at']} on {results['machine']}; training on {results['device']} "
        f"({results['torch_threads']} torch thread(s)). {results['held_out_count']} held-out "
        "questions (left open: never trained on; their outcomes known to the bench) are forecast "
        "after each iteration exactly as agents are served. Each iteration gathers and resolves "
        f"{results['batch']} more questions through the real pipeline (procedural photos, "
        "simulated workers, verification, evidence), then runs one training cycle "
        f"({results['trials']} hyperparameter trials; promotion needs a held-out log-loss gain "
        f"over {results['margin']} that holds in {results.get('confidence', 0.75):.0%} of paired "
        "bootstrap resamples). Then the acquisition loop may buy evidence for the held-out "
        "questions (where the champion is unsure and the stake covers a bounty), which simulated "
        "workers photograph; the held-out questions are scored after that.",
        "",
        "| iteration | resolved | evidence items | champion | promoted | Brier: champion / base "
        "rate / without evidence | log loss: champion / base rate / without evidence | ECE | "
        "cycle s | generate s | bounties bought for held-out (spent) | held-out evidence |",
        "| ---: | ---: | ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results["iterations"]:
        h = row["held_out"]
        acquired = row.get("acquisition") or {}
        lines.append(
            f"| {row['iteration']} | {row['resolved_questions']} | {row['evidence_items']} | "
            f"{row['champion']} | {'yes' if row['promoted'] else 'no'} | "
            f"{h['champion']['brier']:.4f} / {h['base_rate']['brier']:.4f} / "
            f"{h['without_evidence']['brier']:.4f} | {h['champion']['log_loss']:.4f} / "
            f"{h['base_rate']['log_loss']:.4f} / {h['without_evidence']['log_loss']:.4f} | "
            f"{h['champion']['ece']:.4f} | {row['cycle_seconds']:.1f} | "
            f"{row['generate_seconds']:.1f} | {acquired.get('posted', 0)} "
            f"({acquired.get('spent_minor', 0) / 100:.2f}) | {row['held_out_evidence']} |"
        )
    final = results["iterations"][-1]["held_out"]
    beats = (
        final["champion"]["brier"] < final["base_rate"]["brier"]
        and final["champion"]["brier"] < final["without_evidence"]["brier"]
    )
    first = results["iterations"][0]["held_out"]["champion"]["brier"]
    best = min(results["iterations"], key=lambda row: row["held_out"]["champion"]["brier"])

    lines += [
        "",
        f"Final champion {'beats' if beats else 'does NOT beat'} both baselines on held-out "
        f"Brier; held-out Brier went from {first:.4f} (iteration 1) to "
        f"{final['champion']['brier']:.4f}; the lowest was "
        f"{best['held_out']['champion']['brier']:.4f} (iteration {best['iteration']}). "
        "Promotions are decided on each cycle's own held-out "
        "slice (the latest resolved questions), which can disagree with this separate set. "
        f"GPU: {results['gpu']}.",
        "",
        "![held-out Brier and log loss per iteration, and the final calibration]"
        "(results/forecast.png)",
    ]
    replace_section("forecast", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--batch", type=int, default=60, help="questions resolved per iteration")
    parser.add_argument("--held-out", type=int, default=60)
    parser.add_argument("--photos", default="1-4", help="photos per question, min-max")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="generator threads")
    parser.add_argument(
        "--no-acquire", action="store_true", help="do not let the loop buy held-out evidence"
    )
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args()
    if args.readme_only:
        write_readme(json.loads(RESULTS.read_text()))
        return
    low, high = (int(v) for v in args.photos.split("-"))
    psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(f"CREATE DATABASE {DATABASE}")
    django.setup()
    import torch
    from django.conf import settings
    from django.core.management import call_command
    from tqdm import tqdm

    from forecasting.models import EvidenceItem, Question, QuestionStatus
    from forecasting.services.training import training_cycle
    from forecasting.serving import champion as current_champion
    from forecasting.synthetic import generate

    logging.disable(logging.INFO)  # the pipeline logs every upload: keep the progress bar readable
    call_command("migrate", verbosity=0)
    started = datetime.now(UTC)
    total = args.held_out + args.iterations * args.batch
    with tqdm(total=total, desc="questions", unit="q") as bar:
        held_out = generate(
            count=args.held_out, photos_per_question=(low, high), seed=10_000, resolve=False,
            progress=lambda _: bar.update(), threads=args.threads,
        )  # fmt: skip
        iterations = []
        for iteration in range(1, args.iterations + 1):
            t0 = time.monotonic()
            generate(
                count=args.batch, photos_per_question=(low, high), seed=iteration,
                progress=lambda _: bar.update(), threads=args.threads,
            )  # fmt: skip
            generate_seconds = time.monotonic() - t0
            t0 = time.monotonic()
            result = training_cycle(trials=args.trials, seed=iteration)
            cycle_seconds = time.monotonic() - t0
            if result.version is None:
                raise SystemExit(f"iteration {iteration}: {result.reason}")
            champion = current_champion()
            acquired = acquire_for(held_out, seed=iteration) if not args.no_acquire else {}
            row = {
                "iteration": iteration,
                "resolved_questions": Question.objects.filter(
                    status=QuestionStatus.RESOLVED
                ).count(),
                "evidence_items": EvidenceItem.objects.count(),
                "version": result.version.name,
                "promoted": result.promoted,
                "decision": result.reason,
                "champion": champion.name if champion else "base-rate-v1",
                "cycle_metrics": result.version.metrics,
                "search": result.version.search,
                "cycle_seconds": cycle_seconds,
                "generate_seconds": generate_seconds,
                "acquisition": acquired,
                "held_out_evidence": EvidenceItem.objects.filter(
                    question__in=[item.question for item in held_out]
                ).count(),
                "held_out": held_out_scores(held_out, result.version),
            }
            iterations.append(row)
            h = row["held_out"]
            tqdm.write(
                f"iteration {iteration}: {row['champion']} Brier {h['champion']['brier']:.4f} "
                f"(base {h['base_rate']['brier']:.4f}, no evidence "
                f"{h['without_evidence']['brier']:.4f}); {result.reason}"
            )
    results = {
        "ran_at": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {torch.__version__}",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "none here",
        "torch_threads": settings.FORECAST_TORCH_THREADS,
        "held_out_count": args.held_out,
        "batch": args.batch,
        "trials": args.trials,
        "margin": settings.FORECAST_PROMOTION_MARGIN,
        "confidence": settings.FORECAST_PROMOTION_CONFIDENCE,
        "photos_per_question": [low, high],
        "load_average": os.getloadavg(),
        "iterations": iterations,
    }
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    plot(results)
    write_readme(results)
    print(f"wrote {RESULTS}, {PLOT} and bench/README.md")


if __name__ == "__main__":
    main()
