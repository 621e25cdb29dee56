"""What every benchmark script needs: psql against the local server and one percentile rule."""

import subprocess


def psql(sql: str, database: str = "postgres") -> str:
    """Run one statement as the local superuser (trust auth); its rows, unaligned."""
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
         "-qAt", "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) by linear interpolation between the closest ranks (numpy's
    default), so every benchmark's p50, p95 and p99 mean the same thing."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
