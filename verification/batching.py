"""A small thread-safe micro-batcher: callers submit one item and wait; a worker thread groups
whatever arrives within `max_wait_s` (up to `max_batch_size`) into one call."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

logger = logging.getLogger(__name__)


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        process_batch: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        max_batch_size: int = 16,
        max_wait_s: float = 0.01,
        name: str = "micro-batcher",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        # The sizes of the latest batches (bounded: a worker runs for weeks), and the totals.
        self.batch_sizes: deque[int] = deque(maxlen=10_000)
        self.batches = 0
        self.items = 0
        self._process_batch = process_batch
        self._queue: queue.Queue[tuple[Item, Future[Result]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._name = name
        self._closed = False

    def submit(self, item: Item) -> Future[Result]:
        future: Future[Result] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._worker.start()
            self._queue.put((item, future))
        return future

    def __call__(self, item: Item, timeout: float | None = None) -> Result:
        return self.submit(item).result(timeout=timeout)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
            self._queue.put(None)
        if worker is not None:
            worker.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            stop = False
            while len(batch) < self.max_batch_size:
                remaining = deadline - time.monotonic()
                try:
                    entry = self._queue.get(timeout=max(remaining, 1e-6))
                except queue.Empty:
                    break
                if entry is None:
                    stop = True
                    break
                batch.append(entry)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batch_sizes.append(len(live))
        self.batches += 1
        self.items += len(live)
        started = time.perf_counter()
        try:
            results = self._process_batch([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError("the batch function returned the wrong number of results")
        except BaseException as exc:  # every waiting caller gets the error, not a hang
            for _, future in live:
                future.set_exception(exc)
            return
        logger.info(
            "%s: batch of %d in %.0f ms",
            self._name,
            len(live),
            1000 * (time.perf_counter() - started),
        )

        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
