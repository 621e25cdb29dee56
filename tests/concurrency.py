"""Run work in many real threads at once, each with its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_concurrently(
    work: Callable[[int], Any], *, threads: int = 20
) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(i)`` for i in range(threads), all released at the same instant.
    Returns (results, errors)."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def target(index: int) -> None:
        try:
            barrier.wait()
            result = work(index)
            with lock:
                results.append(result)
        except BaseException as error:  # collected and asserted on by the test
            with lock:
                errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=target, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return results, errors
