"""The fuzz suite's budget and tally: `make fuzz` raises the budget and prints the tally.

CI runs a few hundred cases across the fuzz tests; ``FUZZ_EXAMPLES`` (per test) raises it by hand.
Every generated case calls ``count_case()`` so the run can say how many it really tried.
"""

import os
from collections import Counter

from django.core.exceptions import ImproperlyConfigured

CASES: Counter[str] = Counter()


def fuzz_examples(default: int) -> int:
    """Examples per fuzz test: ``FUZZ_EXAMPLES`` when set, else this test's CI default."""
    raw = os.environ.get("FUZZ_EXAMPLES", "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"FUZZ_EXAMPLES must be an integer, got {raw!r}") from exc
    return max(1, value)


def count_case(suite: str) -> None:
    """One generated case tried by ``suite`` (a short name shown in the tally)."""
    CASES[suite] += 1
