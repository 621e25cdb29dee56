"""PNG charts of the forecaster (matplotlib Agg on bare Figures: no pyplot global state, safe in
a threaded server): a version's reliability diagram, its training curve, and the held-out
metrics of every version over time. Drawn from what the version records, not from files."""

import io
from collections.abc import Sequence
from typing import Any

BASELINES = (("base_rate", "base rate"), ("without_evidence", "model without evidence"))


def _figure(width: float = 6, height: float = 4) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def calibration_png(name: str, metrics: dict[str, Any]) -> bytes:
    """Reliability diagram on the held-out questions: forecast vs observed frequency per bin
    (marker area ~ questions in the bin), for the model and, when recorded, the champion."""
    figure = _figure(5, 5)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for key, label in (("challenger", name), ("champion", "champion at the time")):
        points = metrics.get(key, {}).get("reliability") or []
        if points:
            axes.plot(
                [p["forecast"] for p in points], [p["observed"] for p in points], marker="o",
                label=f"{label} (ECE {metrics[key]['ece']:.3f})",
            )  # fmt: skip
            for point in points:
                axes.annotate(f"{int(point['count'])}", (point["forecast"], point["observed"]),
                              textcoords="offset points", xytext=(4, -10), fontsize=7)  # fmt: skip
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("forecast P(yes)")
    axes.set_ylabel("share that resolved yes")
    axes.set_title(f"Calibration on {metrics.get('held_out_questions', '?')} held-out questions")
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    return _png(figure)


def training_curve_png(name: str, history: Sequence[dict[str, float]]) -> bytes:
    """Train and validation loss per epoch of the winning trial."""
    figure = _figure()
    axes = figure.add_subplot()
    epochs = [row["epoch"] for row in history]
    axes.plot(epochs, [row["train_loss"] for row in history], label="train loss")
    axes.plot(epochs, [row["log_loss"] for row in history], label="validation log loss")
    if history:
        best = min(history, key=lambda row: row["log_loss"])
        axes.axvline(best["epoch"], color="grey", linestyle=":", label="kept (early stopping)")
    axes.set_xlabel("epoch")
    axes.set_ylabel("log loss")
    axes.set_title(f"Training curve of {name}")
    axes.legend()
    axes.grid(alpha=0.3)
    return _png(figure)


def history_png(versions: Sequence[dict[str, Any]]) -> bytes:
    """Held-out log loss and Brier score of each version (in order), against the baselines
    measured in the same cycle; promoted versions are filled markers."""
    figure = _figure(8, 4)
    for column, metric in enumerate(("log_loss", "brier")):
        axes = figure.add_subplot(1, 2, column + 1)
        xs = list(range(1, len(versions) + 1))
        values = [v["metrics"].get("challenger", {}).get(metric) for v in versions]
        axes.plot(xs, values, color="C0", label="version")
        promoted = [(x, y) for x, y, v in zip(xs, values, versions, strict=True) if v["promoted"]]
        if promoted:
            axes.scatter(*zip(*promoted, strict=True), color="C0", zorder=3, label="promoted")
        for index, (key, label) in enumerate(BASELINES):
            axes.plot(
                xs, [v["metrics"].get(key, {}).get(metric) for v in versions],
                linestyle="--", color=f"C{index + 1}", label=label,
            )  # fmt: skip
        axes.set_xlabel("version")
        axes.set_title(metric.replace("_", " "))
        axes.grid(alpha=0.3)
        if column == 0:
            axes.legend(fontsize=8)
        if not versions:
            axes.text(0.5, 0.5, "No versions yet", ha="center", va="center")
    return _png(figure)
