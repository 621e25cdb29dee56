"""The base-rate forecaster: P(yes) is the share of resolved questions that resolved yes, with a
Beta posterior for the interval. Plain Python (no Django): the baseline every trained model must
beat, and the forecast served until one has been promoted."""

from dataclasses import dataclass

from scipy.stats import beta  # type: ignore[import-untyped]

MODEL_VERSION = "base-rate-v1"


@dataclass(frozen=True)
class Prediction:
    probability: float
    low: float
    high: float


def base_rate(yes: int, no: int, *, level: float = 0.9) -> Prediction:
    """The posterior mean of Beta(1 + yes, 1 + no) with its central ``level`` interval."""
    a, b = 1 + yes, 1 + no
    tail = (1 - level) / 2
    mean = a / (a + b)
    return Prediction(
        probability=mean,
        low=float(min(mean, beta.ppf(tail, a, b))),
        high=float(max(mean, beta.ppf(1 - tail, a, b))),
    )
