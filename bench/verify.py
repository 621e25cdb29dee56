"""Benchmark of the verification library: pipeline latency, CLIP throughput on CPU, duplicate
index lookups at 10k/100k/1M hashes, and duplicate catch/false-match rates on a 10k corpus.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sightline_benchver \\
    .venv/bin/python bench/verify.py

(a database of its own: the PostgreSQL part loads up to 1M rows into a scratch schema, which
it drops at the end).

Writes bench/results/verify.json and the "verify" section of bench/README.md. `--quick` runs
smaller sizes (for checking the script, not for the table).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "market.settings")

from PIL import ExifTags, Image  # noqa: E402
from transformers import CLIPConfig, CLIPModel  # noqa: E402

from bench.common import percentile  # noqa: E402
from bench.readme import replace_section  # noqa: E402
from tests.verification.corpus import (  # noqa: E402
    COPY_KINDS,
    EVASION_KINDS,
    PHOTOS,
    distinct_images,
    photo_tiles,
)
from tests.verification.tiny_clip import clip_processor  # noqa: E402
from verification import safety_model as safety_check  # noqa: E402
from verification.checks.duplicates import (  # noqa: E402
    STORED_CROPS,
    DuplicateRules,
    Fingerprint,
    Hashes,
    MemoryDuplicateIndex,
    image_fingerprint,
)
from verification.model import RelevanceScorer, VisionModel, pick_device  # noqa: E402
from verification.pipeline import Target, run_all_checks, run_fast_checks  # noqa: E402
from verification.safety_model import QuietClassifier  # noqa: E402
from verification.serving import RemoteScorer, server_key  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "verify.json"
# A run on a GPU machine is kept beside the CPU's.
CLIP_KEY = "clip_cuda" if torch.cuda.is_available() else "clip"

PIPELINE_PHOTOS = (
    "DSCN0010.jpg",
    "DSCN0012.jpg",
    "landscape_6.jpg",
    "HMD_Nokia_8.3_5G.jpg",
    "HMD_Nokia_8.3_5G.heif",
)
RULES = DuplicateRules()
# Every kind of copy the rates count: the plain ones, then the evasions.
ALL_COPY_KINDS = {**COPY_KINDS, **EVASION_KINDS}
NO_SPECTRUM = -1.0  # a cosine every pair meets: the spectrum confirmation off
NO_SPECTRUM_RULES = DuplicateRules(
    min_similarity=NO_SPECTRUM, min_crop_similarity=NO_SPECTRUM, min_view_similarity=NO_SPECTRUM
)
RULE_VARIANTS = {
    "default: pHash<=10 (a band within 1 bit), dHash<=12, spectrum>=0.8 (0.85 to a stored "
    "crop, 0.9 from a probe), quality>=20": RULES,
    "the same, searched exactly (bands within 2 bits)": DuplicateRules(probe_radius=2),
    "the same, spectrum>=0.8 for every pair of views": DuplicateRules(
        min_crop_similarity=0.8, min_view_similarity=0.8
    ),
    "before: pHash<=10, dHash<=12, quality>=30": replace(
        NO_SPECTRUM_RULES, min_quality=30, probe_radius=2
    ),
    "pHash<=10, dHash<=12, quality>=20 (no spectrum)": NO_SPECTRUM_RULES,
    "pHash<=10, spectrum, quality>=20 (no dHash)": DuplicateRules(max_confirm_distance=64),
    "pHash<=10 alone, quality>=20": replace(NO_SPECTRUM_RULES, max_confirm_distance=64),
    "default, quality>=15": DuplicateRules(min_quality=15),
}


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def fresh_upload(name: str, now: datetime) -> bytes:
    """The photo with its capture time rewritten to a minute ago (a realistic fresh upload)."""
    data = (PHOTOS / name).read_bytes()
    if not name.endswith(".jpg"):
        return data
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    captured = (now - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2)))
    exif_ifd[0x9003] = captured.strftime("%Y:%m:%d %H:%M:%S")
    exif_ifd[0x9011] = "+02:00"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def target_for(now: datetime) -> Target:
    return Target(
        lat=43.467448,
        lon=11.885127,
        radius_m=100,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
        verify_text="a photo of the street outside the store",
    )


def time_calls(call: Callable[[], object], rounds: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def latency_summary(timings: list[float]) -> dict[str, float]:
    return {
        "images_per_s": round(len(timings) / sum(timings), 2),
        "p50_ms": ms(percentile(timings, 0.5)),
        "p95_ms": ms(percentile(timings, 0.95)),
    }


def bench_pipeline(index: MemoryDuplicateIndex, rounds: int, progress: tqdm) -> dict[str, Any]:
    """Sequential, one thread: run_fast_checks, and run_all_checks without a vision model."""
    now = datetime.now(UTC)
    uploads = {name: fresh_upload(name, now) for name in PIPELINE_PHOTOS}
    target = target_for(now)
    out: dict[str, Any] = {"photos": {}, "rounds_per_photo": rounds}
    every: dict[str, list[float]] = {"fast": [], "all_without_model": []}
    for name, data in uploads.items():
        run_all_checks(data=data, target=target, received_at=now, index=index)  # warm-up
        per_photo: dict[str, Any] = {}
        runners: list[tuple[str, Callable[..., object]]] = [
            ("fast", run_fast_checks),
            ("all_without_model", run_all_checks),
        ]
        for label, runner in runners:
            call = partial(runner, data=data, target=target, received_at=now, index=index)
            timings = time_calls(call, rounds)
            every[label] += timings
            per_photo[label] = latency_summary(timings)
            progress.update(1)
        image = Image.open(io.BytesIO(data))
        per_photo["size"] = f"{image.width}x{image.height}, {len(data) / 1e6:.1f} MB"
        out["photos"][name] = per_photo
    out["all_photos"] = {label: latency_summary(timings) for label, timings in every.items()}
    return out


class TimedClassifier(QuietClassifier):
    """Open-NSFW as the verify worker runs it (`QuietClassifier`), its forward passes timed
    (the safety check batches through `score_array`)."""

    def __init__(self, threads: int = 1) -> None:
        super().__init__(threads)
        self.forward_seconds = 0.0
        self.batch_sizes: list[int] = []

    def score_array(self, batch: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return super().score_array(batch)
        finally:
            self.forward_seconds += time.perf_counter() - started
            self.batch_sizes.append(len(batch))


class TimedVisionModel(VisionModel):
    """CLIP with the CPU time of its forward passes counted, and (for the stand-in) the thread
    that runs them pinned to one core."""

    pin_to: int | None = None
    forward_cpu_seconds = 0.0

    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.pin_to is not None and os.sched_getaffinity(0) != {self.pin_to}:
            os.sched_setaffinity(0, {self.pin_to})  # this thread only (Linux)
        started = time.thread_time()
        try:
            return super().embed_pixels(pixels)
        finally:
            self.forward_cpu_seconds += time.thread_time() - started


class PatientScorer(RelevanceScorer):
    """No request timeout: on this CPU a batch of 256 takes about as long as the production
    timeout (60 s), and a timed-out request would end its job early and flatter the rate."""

    def score(self, image: Image.Image, text: str, timeout: float | None = None) -> Any:
        return super().score(image, text, timeout=None)


def synchronised(call: Callable[..., object], **kwargs: Any) -> object:
    """`call(**kwargs)`, waiting for a GPU to finish it (CUDA runs asynchronously)."""
    result = call(**kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result


def bare_forward(call: Callable[[], object], batch: int) -> dict[str, Any]:

    call()  # warm-up
    repeats = max(2, 16 // batch)
    per_batch = statistics.median(time_calls(call, repeats))
    return {
        "batch_ms": ms(per_batch),
        "images_per_s": round(batch / per_batch, 2),
        "repeats": repeats,
    }


def warm_up(
    scorer: Any, safety: TimedClassifier, upload: bytes, target: Target, now: datetime
) -> None:
    run_all_checks(
        data=upload, target=target, received_at=now, scorer=scorer, safety_classifier=safety
    )


def drive(
    scorer: Any,
    safety: TimedClassifier,
    *,
    batch: int,
    index: MemoryDuplicateIndex,
    uploads: list[bytes],
    target: Target,
    now: datetime,
) -> dict[str, Any]:
    """`run_all_checks` on four times as many photos as the batch size (at least 6), from
    twice as many threads as the batch size (a threads-pool verify worker configured as the
    README says: one batch on the model while the next one is prepared), relevance through
    `scorer`, Open-NSFW behind its micro-batcher. The caller warms both up first."""
    concurrency = 2 * batch
    jobs = [uploads[i % len(uploads)] for i in range(max(batch * 4, 6))]
    count = len(jobs)
    lock = threading.Lock()
    failures: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                data = jobs.pop()
            try:
                result = run_all_checks(
                    data=data,
                    target=target,
                    received_at=now,
                    index=index,
                    scorer=scorer,
                    safety_classifier=safety,
                )
                if result.result("relevance").status == "skipped":
                    failures.append("relevance skipped")
            except Exception as exc:  # counted and reported: a failed job must not count
                failures.append(repr(exc))

    safety.batch_sizes.clear()
    cpu_before = time.process_time()
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "concurrent_requests": concurrency,
        "images": count,
        "failures": len(failures),
        "images_per_s": round((count - len(failures)) / elapsed, 2),
        "mean_safety_batch": round(statistics.mean(safety.batch_sizes), 2),
        "elapsed_s": elapsed,
        "cpu_s": time.process_time() - cpu_before,
    }


def run_pipeline(
    vision: TimedVisionModel,
    safety: TimedClassifier,
    *,
    batch: int,
    index: MemoryDuplicateIndex,
    uploads: list[bytes],
    target: Target,
    now: datetime,
) -> dict[str, Any]:
    """`drive` with CLIP in this process behind its micro-batcher (batches up to `batch`)."""
    scorer = PatientScorer(vision, max_batch_size=batch, max_wait_s=0.05)
    warm_up(scorer, safety, uploads[0], target, now)
    scorer.batcher.batch_sizes.clear()
    forward_before, safety_before = vision.forward_seconds, safety.forward_seconds
    forward_cpu_before = vision.forward_cpu_seconds
    row = drive(scorer, safety, batch=batch, index=index, uploads=uploads, target=target, now=now)
    scorer.close()
    elapsed, cpu = row.pop("elapsed_s"), row.pop("cpu_s")
    forward_s = vision.forward_seconds - forward_before
    return {
        **row,
        "mean_batch": round(statistics.mean(scorer.batcher.batch_sizes), 2),
        # The share of the run's wall time spent in CLIP's forward passes (and in Open-NSFW's,
        # which run in their own thread at the same time, so the two do not add up).
        "clip_share_of_wall": round(forward_s / elapsed, 3),
        "safety_share_of_wall": round((safety.forward_seconds - safety_before) / elapsed, 3),
        # CPU time per image outside CLIP's forward passes: decoding, the other checks,
        # preprocessing, Open-NSFW (exact when CLIP runs in one thread, as in the stand-in).
        "cpu_ms_per_image_besides_clip": round(
            1000 * (cpu - (vision.forward_cpu_seconds - forward_cpu_before)) / row["images"], 1
        ),
    }


def bench_clip(
    batch_sizes: list[int], index: MemoryDuplicateIndex, progress: tqdm
) -> dict[str, Any]:
    """ViT-B/32-sized CLIP (CLIPConfig() defaults, random weights: the trained model's compute)
    where the verify worker would run it (`pick_device`: a CUDA GPU in bf16/fp16 when there is
    one, else the CPU in fp32): bare image forward passes (and Open-NSFW's, the pipeline's other
    model), then the whole pipeline around them, as a threads-pool verify worker runs it. On
    the CPU, then the same with one core standing in for an accelerator (`bench_standin`)."""
    torch.manual_seed(0)
    device, dtype = pick_device()
    model = CLIPModel(CLIPConfig()).eval().to(device, dtype)
    with tempfile.TemporaryDirectory() as scratch:
        processor = clip_processor(Path(scratch), image_size=224)
    vision = TimedVisionModel(model, processor, device=device, dtype=dtype)
    safety = TimedClassifier(threads=1)  # the verify worker's default (VERIFY_SAFETY_THREADS)
    safety_check.SAFETY_TIMEOUT_S = None  # as PatientScorer, for Open-NSFW's batcher
    out: dict[str, Any] = {
        "model": "CLIPConfig() defaults (ViT-B/32 vision, 151M parameters), random weights",
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "dtype": str(dtype).removeprefix("torch."),
        "safety_providers": safety._session.get_providers(),
        "torch_threads": torch.get_num_threads(),
        "safety_threads": safety.threads,
        "forward": {},
        "safety_forward": {},
        "pipeline": {},
    }
    now = datetime.now(UTC)
    uploads = [fresh_upload(name, now) for name in ("DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg")]
    target = target_for(now)
    for batch in batch_sizes:
        # The bare forward passes right before the pipeline run at the same batch size, so the
        # two see about the same load from the box's other jobs.
        pixels = torch.randn(batch, 3, 224, 224, device=device, dtype=dtype)
        with torch.inference_mode():
            out["forward"][str(batch)] = bare_forward(
                partial(synchronised, model.get_image_features, pixel_values=pixels), batch
            )
        safety_batch = min(batch, safety_check.SAFETY_MAX_BATCH)  # what the pipeline runs
        arrays = np.random.default_rng(0).normal(0, 60, (safety_batch, 224, 224, 3))
        out["safety_forward"][str(batch)] = bare_forward(
            partial(QuietClassifier.score_array, safety, arrays.astype(np.float32)), safety_batch
        )
        progress.update(1)
        row = run_pipeline(
            vision, safety, batch=batch, index=index, uploads=uploads, target=target, now=now
        )
        bare = out["forward"][str(batch)]["images_per_s"]
        bare_safety = out["safety_forward"][str(batch)]["images_per_s"]
        bare_both = 1 / (1 / bare + 1 / bare_safety)
        row.update(
            ratio_to_bare_forward=round(row["images_per_s"] / bare, 3),
            # Both models' bare forward passes, one after the other, for every image.
            bare_both_models_images_per_s=round(bare_both, 2),
            ratio_to_bare_both_models=round(row["images_per_s"] / bare_both, 3),
        )
        out["pipeline"][str(batch)] = row
        progress.update(1)
    if device.type == "cpu":
        out["standin"] = bench_standin(model, processor, batch_sizes, index, uploads, target, now)

    progress.update(len(batch_sizes))
    return out


def bench_standin(
    model: Any,
    processor: Any,
    batch_sizes: list[int],
    index: MemoryDuplicateIndex,
    uploads: list[bytes],
    target: Target,
    now: datetime,
) -> dict[str, Any] | None:
    """One core stands in for the accelerator, the others are the host: CLIP's forward passes
    run single-threaded in the batcher's thread pinned to the last core; every other thread
    (decoding, the fast checks, preprocessing, Open-NSFW) is pinned to the remaining cores.
    The bare forward pass is timed on the same core with one thread. The ratio then says what
    the goal asks: whether the pipeline keeps its model's device busy, with the host's work
    on the host, as on a GPU machine (where the device is much faster: the host CPU time per
    image sizes how many cores feed one GPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    device_cpu, host = cpus[-1], set(cpus[:-1])
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    vision = TimedVisionModel(model, processor, device=torch.device("cpu"), dtype=torch.float32)
    vision.pin_to = device_cpu
    safety = TimedClassifier(threads=len(host))
    out: dict[str, Any] = {"device_cpu": device_cpu, "host_cpus": sorted(host), "batches": {}}
    try:
        for batch in batch_sizes:
            pixels = torch.randn(batch, 3, 224, 224)
            os.sched_setaffinity(0, {device_cpu})
            with torch.inference_mode():
                bare = bare_forward(partial(model.get_image_features, pixel_values=pixels), batch)
            os.sched_setaffinity(0, host)  # the request threads inherit it
            row = run_pipeline(
                vision,
                safety,
                batch=batch,
                index=index,
                uploads=uploads,
                target=target,
                now=now,
            )
            row.update(
                bare_forward_images_per_s=bare["images_per_s"],
                bare_forward_batch_ms=bare["batch_ms"],
                ratio_to_bare_forward=round(row["images_per_s"] / bare["images_per_s"], 3),
            )
            out["batches"][str(batch)] = row
    finally:
        os.sched_setaffinity(0, set(cpus))
        torch.set_num_threads(torch_threads)
    return out


class PatientRemoteScorer(RemoteScorer):
    """As PatientScorer, for the vision server's client."""

    def score(self, image: Image.Image, text: str, timeout: float | None = None) -> Any:
        return super().score(image, text, timeout=None)


def bench_server(
    batch_sizes: list[int],
    index: MemoryDuplicateIndex,
    progress: tqdm,
) -> dict[str, Any] | None:
    """The accelerator stand-in again, through the vision server: `manage.py serve_vision`
    (the same random ViT-B/32 CLIP, saved as an operator would, one torch thread) pinned to the
    last core, this process's pipeline threads on the others, each request's pixels sent over
    the Unix socket as a prefork verify worker's would be. Compared with the bare forward pass
    on the server's core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    device_cpu, host = cpus[-1], set(cpus[:-1])
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig()).eval()
    torch_threads = torch.get_num_threads()
    now = datetime.now(UTC)
    uploads = [fresh_upload(name, now) for name in ("DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg")]
    target = target_for(now)
    safety = TimedClassifier(threads=len(host))
    safety_check.SAFETY_TIMEOUT_S = None
    out: dict[str, Any] = {"device_cpu": device_cpu, "host_cpus": sorted(host), "batches": {}}
    with tempfile.TemporaryDirectory(prefix="sl-bench-") as scratch:
        model_dir = Path(scratch) / "clip"
        model.save_pretrained(model_dir)
        clip_processor(model_dir, image_size=224).save_pretrained(model_dir)
        socket_path = str(Path(scratch) / "vision.sock")
        secret = secrets.token_hex(32)  # the server and its client share it
        try:
            for batch in batch_sizes:
                pixels = torch.randn(batch, 3, 224, 224)
                torch.set_num_threads(1)
                os.sched_setaffinity(0, {device_cpu})  # the server, started now, inherits it
                with torch.inference_mode():
                    bare = bare_forward(
                        partial(model.get_image_features, pixel_values=pixels), batch
                    )
                env = {**os.environ, "DJANGO_ENV": "test", "SECRET_KEY": secret,
                       "VISION_SERVER": socket_path, "VISION_MODEL_DIR": str(model_dir),
                       "VISION_MAX_BATCH": str(batch), "VISION_MAX_WAIT_MS": "50",
                       "OMP_NUM_THREADS": "1", "LOG_LEVEL": "WARNING",
                       # A batch of 256 takes ~30 s on one core: the patient client's server.
                       "VISION_REQUEST_TIMEOUT_S": "3600"}  # fmt: skip

                server = subprocess.Popen(
                    [sys.executable, "manage.py", "serve_vision"], cwd=ROOT, env=env,
                    stdout=subprocess.DEVNULL,
                )  # fmt: skip
                os.sched_setaffinity(0, host)
                try:
                    deadline = time.monotonic() + 120
                    while not Path(socket_path).exists():
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError("the vision server did not start")
                        time.sleep(0.1)
                    scorer = PatientRemoteScorer(socket_path, server_key(secret), model_dir)
                    warm_up(scorer, safety, uploads[0], target, now)
                    row = drive(
                        scorer,
                        safety,
                        batch=batch,
                        index=index,
                        uploads=uploads,
                        target=target,
                        now=now,
                    )
                finally:
                    server.terminate()
                    server.wait(timeout=60)
                row.pop("elapsed_s")
                cpu = row.pop("cpu_s")
                row.update(
                    bare_forward_images_per_s=bare["images_per_s"],
                    ratio_to_bare_forward=round(row["images_per_s"] / bare["images_per_s"], 3),
                    host_cpu_ms_per_image=round(1000 * cpu / row["images"], 1),
                )
                out["batches"][str(batch)] = row
                progress.update(1)
        finally:
            os.sched_setaffinity(0, set(cpus))
            torch.set_num_threads(torch_threads)
    return out


def corpus_fingerprints(count: int, copies_of: int, progress: tqdm) -> dict[str, Any]:
    """Fingerprints of `count` distinct photos, and of every kind of copy (`ALL_COPY_KINDS`) of
    `copies_of` of them. `tiles`: how many of the photos (the first ones) are tiles of the real
    photos."""
    images = distinct_images(count, seed=7)
    tiles = min(count // 3, sum(1 for _ in photo_tiles()))
    distinct = []
    for number, image in enumerate(images):
        distinct.append(image_fingerprint(image, sha256=f"distinct:{number}"))
        progress.update(1)
    rng = random.Random(5)
    copies: list[tuple[int, str, Fingerprint]] = []
    for number in rng.sample(range(count), copies_of):
        for kind, make_copy in ALL_COPY_KINDS.items():
            copy = image_fingerprint(make_copy(images[number], rng), sha256=f"copy:{number}")
            copies.append((number, kind, copy))
        progress.update(1)
    return {"distinct": distinct, "copies": copies, "tiles": tiles}


def bench_rates(corpus: dict[str, Any]) -> dict[str, Any]:
    distinct: list[Fingerprint] = corpus["distinct"]
    copies: list[tuple[int, str, Fingerprint]] = corpus["copies"]
    tiles: int = corpus["tiles"]
    out: dict[str, Any] = {
        "photos": len(distinct),
        "tiles_of_real_photos": tiles,
        "copies": len(copies),
        "rules": RULES.__dict__,
    }
    for label, rules in RULE_VARIANTS.items():
        index = MemoryDuplicateIndex()
        false_matches = 0
        for number, fp in enumerate(distinct):
            false_matches += bool(index.find(fp, rules))
            index.add(str(number), fp, rules)
        caught: Counter[str] = Counter()
        total: Counter[str] = Counter()
        caught_all = eligible = caught_textured = 0
        for number, kind, copy in copies:
            hit = any(m.reference == str(number) for m in index.find(copy, rules))
            caught_all += hit
            source = "tile" if number < tiles else "scene"
            for key in (kind, source):
                total[key] += 1
                caught[key] += hit
            if distinct[number].quality >= rules.min_quality:
                eligible += 1
                caught_textured += hit
        out[label] = {
            "false_match_rate": round(false_matches / len(distinct), 5),
            "false_matches": false_matches,
            "catch_rate_textured": round(caught_textured / eligible, 4),
            "catch_rate_all": round(caught_all / len(copies), 4),
            # every copy, by transform and by source (tiles of real photos, generated scenes)
            "by_kind": {key: round(caught[key] / total[key], 4) for key in total},
        }
    plain = sum(fp.quality < RULES.min_quality for fp in distinct)
    out["plain_photos_fraction"] = round(plain / len(distinct), 4)
    return out


def synthetic_hashes(base: list[Fingerprint], count: int, seed: int = 1) -> list[Fingerprint]:
    """`count` fingerprints: the corpus's real ones, then synthetic ones whose every bit is
    drawn with that bit's frequency in the corpus (real hashes are biased, so band buckets fill
    unevenly; a uniform sample would flatter the index)."""
    out = list(base[:count])
    if len(out) == count:
        return out
    rng = np.random.default_rng(seed)
    bits = np.arange(64, dtype=np.uint64)
    extra = count - len(out)
    hashes: dict[str, np.ndarray] = {}
    views = 1 + len(STORED_CROPS)  # each synthetic photo stores as many views as a real one
    for name in ("phash", "dhash"):
        values = np.array([getattr(fp, name) for fp in base], dtype=np.uint64)
        frequency = ((values[:, None] >> bits) & np.uint64(1)).mean(axis=0)
        drawn = (rng.random((extra * views, 64)) < frequency).astype(np.uint64)
        hashes[name] = (drawn << bits).sum(axis=1, dtype=np.uint64).reshape(extra, views)
    qualities = rng.choice([fp.quality for fp in base], size=extra)
    spectra = rng.integers(len(base), size=extra)  # a real photo's spectrum (stored bytes)
    for number, (phashes, dhashes, quality, source) in enumerate(
        zip(
            hashes["phash"].tolist(),
            hashes["dhash"].tolist(),
            qualities.tolist(),
            spectra.tolist(),
            strict=True,
        )
    ):
        spectrum = base[source].spectrum
        crops = tuple(Hashes(p, d, spectrum) for p, d in zip(phashes[1:], dhashes[1:], strict=True))
        out.append(
            Fingerprint(
                f"synthetic:{number}", phashes[0], dhashes[0], quality, spectrum, crops=crops
            )
        )
    return out


def bench_memory_index(corpus: dict[str, Any], sizes: list[int], progress: tqdm) -> dict[str, Any]:
    queries = [copy for _, _, copy in corpus["copies"][:500]] + corpus["distinct"][:500]
    out: dict[str, Any] = {}
    for size in sizes:
        out[str(size)] = memory_index_at(synthetic_hashes(corpus["distinct"], size), queries)
        progress.update(1)
    return out


def memory_index_at(stored: list[Fingerprint], queries: list[Fingerprint]) -> dict[str, float]:
    index = MemoryDuplicateIndex()
    started = time.perf_counter()
    for number, fp in enumerate(stored):
        index.add(str(number), fp, RULES)
    build_s = time.perf_counter() - started
    timings = time_calls_each(partial(find_in, index), queries)
    phashes = np.array([fp.phash for fp in stored], dtype=np.uint64)
    scan = time_calls_each(partial(linear_scan, phashes), queries[:50])
    return {
        "build_s": round(build_s, 2),
        "lookup_p50_us": round(percentile(timings, 0.5) * 1e6, 1),
        "lookup_p95_us": round(percentile(timings, 0.95) * 1e6, 1),
        "numpy_linear_scan_p50_us": round(percentile(scan, 0.5) * 1e6, 1),
    }


def find_in(index: Any, query: Fingerprint) -> object:
    return index.find(query, RULES)


def linear_scan(phashes: np.ndarray, query: Fingerprint) -> object:
    """The baseline MIH replaces: every stored hash's distance, vectorised."""
    return np.nonzero(np.bitwise_count(phashes ^ np.uint64(query.phash)) <= RULES.max_distance)


def time_calls_each(call: Callable[[Any], object], items: list[Any]) -> list[float]:
    timings = []
    for item in items:
        started = time.perf_counter()
        call(item)
        timings.append(time.perf_counter() - started)
    return timings


def bench_database_index(
    corpus: dict[str, Any], sizes: list[int], progress: tqdm
) -> dict[str, Any] | None:
    """The PostgreSQL index in a scratch schema (dropped after): rows loaded with COPY up to
    each size in turn, VACUUM ANALYZE (what autovacuum does for a live table: statistics, and
    the visibility map the index-only scans need), then lookups. Use a database of its own:
    VACUUM cannot run inside a transaction, so the schema is real while the bench runs."""
    import django

    django.setup()
    from django.db import connection

    from verification.fingerprints import DatabaseDuplicateIndex, fingerprint_rows
    from verification.models import PhotoFingerprint

    if connection.vendor != "postgresql":
        return None
    queries = [copy for _, _, copy in corpus["copies"][:100]] + corpus["distinct"][:100]
    stored = synthetic_hashes(corpus["distinct"], max(sizes))
    table = PhotoFingerprint._meta.db_table
    columns = [
        "reference", "sha256", "phash", "dhash", "quality", "spectrum", "view",
        "band0", "band1", "band2", "band3", "created_at",
    ]  # fmt: skip
    out: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS bench_verify CASCADE")
        cursor.execute("CREATE SCHEMA bench_verify")
        cursor.execute("SET search_path TO bench_verify")
    try:
        with connection.schema_editor() as editor:
            editor.create_model(PhotoFingerprint)
        loaded = 0
        now = datetime.now(UTC)
        for size in sizes:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for number in range(loaded, size):
                        for row in fingerprint_rows(str(number), stored[number], RULES):
                            copy.write_row([getattr(row, c) for c in columns[:-1]] + [now])
                loaded = size
                cursor.execute(f"VACUUM ANALYZE {table}")
            insert_s = time.perf_counter() - started
            index = DatabaseDuplicateIndex()
            for query in queries[:20]:  # warm-up: the index pages into the cache
                index.find(query, RULES)
            timings = time_calls_each(partial(find_in, index), queries)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_total_relation_size('{table}')")
                (table_bytes,) = cursor.fetchone()
            out[str(size)] = {
                "copy_and_vacuum_s": round(insert_s, 2),
                "table_with_indexes_mb": round(table_bytes / 1e6, 1),
                "lookup_p50_ms": ms(percentile(timings, 0.5)),
                "lookup_p95_ms": ms(percentile(timings, 0.95)),
            }
            progress.update(1)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET search_path TO DEFAULT")
            cursor.execute("DROP SCHEMA bench_verify CASCADE")
    return out


def clip_lines(results: dict[str, Any], key: str) -> list[str]:
    """The README rows of one CLIP run (`clip`: CPU; `clip_cuda`: a GPU)."""
    clip = results[key]
    reran = results.get("reran_at", {})
    lines: list[str] = []
    lines += [
        "",
        f"CLIP on {clip.get('device_name') or clip['device'].upper()}: {clip['model']}, "
        f"{clip['dtype']}, "
        f"{clip['torch_threads']} torch threads; "
        f"the pipeline's other model, Open-NSFW (ONNX, {clip.get('safety_threads', 2)} thread), "
        "on the CPU. Pipeline = `run_all_checks` with both models behind their "
        "micro-batchers, as a threads-pool verify worker runs it: CLIP's batch up to the row's "
        "batch size, twice as many concurrent requests (one batch on the model while the next "
        "is prepared), four times as many photos (640x480 JPEGs). The bare forward passes were "
        "timed right before the pipeline run of the same batch size. 'Bare CLIP + NSFW' is both "
        "models' bare forward passes one after the other for every image: what the pipeline "
        "would reach if everything but the models were free. 'CLIP busy' is the share of the "
        "pipeline run's wall time spent in CLIP's forward passes: how little the model waits "
        "for the pipeline." + (f" Rerun {reran[key]}." if key in reran else ""),
        "",
        "| batch | bare CLIP ms | bare CLIP images/s | bare CLIP + NSFW images/s | "
        "pipeline images/s | mean batch | ratio to bare CLIP | ratio to bare CLIP + NSFW | "
        "CLIP busy |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for batch, forward in clip["forward"].items():
        row = clip["pipeline"].get(batch, {})
        lines.append(
            f"| {batch} | {forward['batch_ms']} | {forward['images_per_s']} | "
            f"{row.get('bare_both_models_images_per_s', '-')} | "
            f"{row.get('images_per_s', '-')} | {row.get('mean_batch', '-')} | "
            f"{row.get('ratio_to_bare_forward', '-')} | "
            f"{row.get('ratio_to_bare_both_models', '-')} | "
            f"{row.get('clip_share_of_wall', row.get('ratio_to_forward_in_run', '-'))} |"
        )
    standin = clip.get("standin")
    if standin:
        lines += [
            "",
            f"Accelerator stand-in: core {standin['device_cpu']} plays the GPU (CLIP's forward "
            "passes, one torch thread, in the batcher's thread pinned to it; the bare forward "
            "pass timed there too), cores "
            f"{', '.join(str(c) for c in standin['host_cpus'])} the host (every other thread: "
            "decoding, the fast checks, preprocessing, Open-NSFW). The ratio answers the goal's "
            "question (does the pipeline keep its model's device busy?) with the host's work on "
            "the host. 'Host CPU ms per image' is all CPU time outside CLIP's forward passes: "
            "divide a GPU's bare images/s by 1000 / that to get the host cores it needs.",
            "",
            "| batch | bare CLIP images/s (device core) | pipeline images/s | mean batch | "
            "ratio to bare CLIP | CLIP busy | host CPU ms per image |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for batch, row in standin["batches"].items():
            lines.append(
                f"| {batch} | {row['bare_forward_images_per_s']} | {row['images_per_s']} | "
                f"{row['mean_batch']} | {row['ratio_to_bare_forward']} | "
                f"{row['clip_share_of_wall']} | {row['cpu_ms_per_image_besides_clip']} |"
            )
    for earlier in results.get("previous_runs", {}).get(key, []):
        earlier_clip = earlier.get(key) or {}
        ratios = ", ".join(
            f"{batch}: {row.get('ratio_to_bare_forward', '-')}"
            + (f" ({row['failures']} failed)" if row.get("failures") else "")
            for batch, row in earlier_clip.get("pipeline", {}).items()
        )
        lines += ["", f"Earlier run ({earlier['ran_at']}), ratio to bare CLIP by batch: {ratios}."]
    return lines


def write_readme(results: dict[str, Any]) -> None:
    pipe = results["pipeline"]
    lines = [
        "## verify: photo verification (`bench/verify.py`)",
        "",
        f"Run {results['ran_at']} on {results['machine']} (a shared box: load average "
        f"{results['load_average_at_start'][0]} at start, {results['load_average_at_end'][0]} "
        "at the end). Pipeline: sequential, one thread; the duplicate index holds the 10k "
        "corpus."
        + (
            f" This table was rerun {results['reran_at']['pipeline']}."
            if "pipeline" in results.get("reran_at", {})
            else ""
        ),
        "",
        "| pipeline (no vision model) | images/s | p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, name in (("fast checks", "fast"), ("all checks", "all_without_model")):
        row = pipe["all_photos"][name]
        lines.append(
            f"| {label}, all photos | {row['images_per_s']} | {row['p50_ms']} | {row['p95_ms']} |"
        )
    for photo, row in pipe["photos"].items():
        fast, full = row["fast"], row["all_without_model"]
        lines.append(
            f"| {photo} ({row['size']}): fast / all | {fast['images_per_s']} / "
            f"{full['images_per_s']} | {fast['p50_ms']} / {full['p50_ms']} | "
            f"{fast['p95_ms']} / {full['p95_ms']} |"
        )
    for key in ("clip", "clip_cuda"):
        if results.get(key):
            lines += clip_lines(results, key)
    server = results.get("vision_server")
    if server:
        lines += [
            "",
            "Through the vision server (`manage.py serve_vision`, the prefork deployment): the "
            f"same stand-in with the server process on core {server['device_cpu']} (one torch "
            "thread) and the pipeline threads here, each photo's pixels sent over the Unix "
            "socket. Ratio to the bare forward pass on the server's core."
            + (
                f" Rerun {results['reran_at']['vision_server']}."
                if "vision_server" in results.get("reran_at", {})
                else ""
            ),
            "",
            "| batch | bare CLIP images/s (server core) | pipeline images/s | ratio to bare CLIP | "
            "host CPU ms per image |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for batch, row in server["batches"].items():
            lines.append(
                f"| {batch} | {row['bare_forward_images_per_s']} | {row['images_per_s']} | "
                f"{row['ratio_to_bare_forward']} | {row['host_cpu_ms_per_image']} |"
            )
    if not results.get("clip_cuda"):
        lines += [
            "",
            "GPU: none was available for these runs. On a machine with CUDA, `bench/verify.py "
            "--only clip` measures the same on the GPU (bf16, or fp16 where bf16 is missing) and "
            "adds its table beside the CPU's.",
        ]

    lines += [
        "",
        f"Near-duplicate lookup (pHash <= {RULES.max_distance} bits with a 16-bit band within "
        f"{RULES.probe_radius}, dHash <= {RULES.max_confirm_distance}, spectrum >= "
        f"{RULES.min_similarity}, {RULES.min_crop_similarity} to a stored crop, "
        f"{RULES.min_view_similarity} from a probe): 10k real corpus hashes, larger sizes add "
        "synthetic hashes drawn with the corpus's per-bit frequencies. "
        f"Each photo stores {1 + len(STORED_CROPS)} views (the whole picture, its centre crop "
        "and four side crops) as index entries; each lookup searches the photo against all of "
        "them, and its probes (its centre crop, the picture inside a border when it has one, "
        "its mirror image) against the stored whole picture and centre crop. PostgreSQL: rows "
        "loaded with COPY, then VACUUM ANALYZE; one query of eight index-only scans (two per "
        "band: the photo's 17 probe values over every view, its probes' over views 0-1) on the "
        "covering (band, view) indexes, Hamming distances filtered in the index."
        + (
            f" PostgreSQL columns rerun {results['reran_at']['database_index']}."
            if "database_index" in results.get("reran_at", {})
            else ""
        ),
        "",
        "| stored hashes | memory MIH p50 us | p95 us | numpy linear scan p50 us | "
        "PostgreSQL p50 ms | p95 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    database = results.get("database_index") or {}
    for size, row in results["memory_index"].items():
        db = database.get(size, {})
        lines.append(
            f"| {int(size):,} | {row['lookup_p50_us']} | {row['lookup_p95_us']} | "
            f"{row['numpy_linear_scan_p50_us']} | {db.get('lookup_p50_ms', '-')} | "
            f"{db.get('lookup_p95_ms', '-')} |"
        )
    earlier = (results.get("previous_runs", {}).get("database_index") or [None])[-1]
    if earlier and earlier.get("database_index"):
        lines += [
            "",
            f"Previous PostgreSQL run ({earlier['ran_at']}), p50 / p95 ms: "
            + "; ".join(
                f"{int(size):,}: {row['lookup_p50_ms']} / {row['lookup_p95_ms']}"
                for size, row in earlier["database_index"].items()
            )
            + ".",
        ]
    rates = results["rates"]
    default = rates[next(iter(RULE_VARIANTS))]
    kinds = list(ALL_COPY_KINDS)
    lines += [
        "",
        f"Duplicate rates on {rates['photos']:,} distinct photos ({rates['tiles_of_real_photos']:,}"
        " tiles of the shared photos, upside down and turned; the rest generated scenes) "
        f"and {rates['copies']:,} copies (resized, JPEG q70, cropped <= 3% a side, and "
        "combinations; then the evasions, each saved as JPEG q70: mirrored, framed by a uniform "
        "border of a random colour 1-10% of the short side wide, cropped by up to 10% of the "
        "width and of the height split at random between the sides, turned 1-3 degrees with "
        "black corners, and turned with the corners cropped away). "
        f"{rates['plain_photos_fraction']:.1%} of photos are too plain "
        f"(quality < {RULES.min_quality}) for near matching; they are only matched byte for "
        "byte. Catch rates: of all copies, of copies of photos textured enough to compare, "
        "by transform and by source.",
        "",
        "| rule | false matches | caught (all copies) | caught (textured) | "
        + " | ".join(kinds)
        + " | real-photo tiles | generated scenes |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in kinds) + " | ---: | ---: |",
    ]
    for label in RULE_VARIANTS:
        row = rates[label]
        by_kind = row["by_kind"]
        lines.append(
            f"| {label} | {row['false_match_rate']:.3%} ({row['false_matches']}) | "
            f"{row['catch_rate_all']:.1%} | {row['catch_rate_textured']:.1%} | "
            + " | ".join(f"{by_kind[kind]:.1%}" for kind in kinds)
            + f" | {by_kind['tile']:.1%} | {by_kind['scene']:.1%} |"
        )
    lines += [
        "",
        f"Default rule: {default['catch_rate_all']:.1%} of all copies caught with "
        f"{default['false_match_rate']:.3%} false matches (goal: >= 95% with <= 0.1%).",
    ]
    replace_section("verify", [*lines, ""])


def rerun(parts: list[str], batch_sizes: list[int]) -> None:
    results = json.loads(RESULTS.read_text())
    steps = 10_000 + 1000 + len(batch_sizes) * 4 + len(PIPELINE_PHOTOS) * 2 + 3
    with tqdm(total=steps, desc="verify bench (rerun)", unit="step") as progress:
        corpus = corpus_fingerprints(10_000, 1000, progress)
        index = MemoryDuplicateIndex()
        index.add_many(((fp.sha256, fp) for fp in corpus["distinct"]), RULES)
        started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        load_start = [round(v, 2) for v in os.getloadavg()]
        fresh: dict[str, Any] = {}
        if "pipeline" in parts:
            fresh["pipeline"] = bench_pipeline(index, 10, progress)
        if "clip" in parts:
            fresh[CLIP_KEY] = bench_clip(batch_sizes, index, progress)
        if "vision_server" in parts:
            fresh["vision_server"] = bench_server(batch_sizes, index, progress)
        if "rates" in parts:
            fresh["rates"] = bench_rates(corpus)
        if "memory_index" in parts:
            fresh["memory_index"] = bench_memory_index(
                corpus, [10_000, 100_000, 1_000_000], progress
            )
        if "database_index" in parts:
            fresh["database_index"] = bench_database_index(
                corpus, [10_000, 100_000, 1_000_000], progress
            )
    for part, value in fresh.items():
        previous = results.setdefault("previous_runs", {}).setdefault(part, [])
        previous.append(
            {
                "ran_at": results.get("reran_at", {}).get(part) or results["ran_at"],
                part: results.get(part),
            }
        )
        results[part] = value
        results.setdefault("reran_at", {})[part] = (
            f"{started_at} (load average {load_start[0]} at start, "
            f"{round(os.getloadavg()[0], 2)} at the end)"
        )
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_readme(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to test the script")
    parser.add_argument("--batch-sizes", default="1,4,16,64,256")
    parser.add_argument("--skip-database", action="store_true")
    parser.add_argument(
        "--readme-only", action="store_true", help="rewrite the README section from the JSON"
    )
    parser.add_argument(
        "--only",
        choices=["pipeline", "clip", "vision_server", "rates", "memory_index", "database_index"],
        action="append",
        help="rerun only these parts (repeatable) into the existing JSON; the replaced results "
        "are kept under previous_runs",
    )
    args = parser.parse_args()
    if args.readme_only:
        write_readme(json.loads(RESULTS.read_text()))
        return
    if args.only:
        rerun(args.only, [int(b) for b in args.batch_sizes.split(",")])
        return
    quick = args.quick
    corpus_size, copies_of = (1000, 100) if quick else (10_000, 1000)
    index_sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    database_sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    rounds = 3 if quick else 10

    steps = (
        corpus_size
        + copies_of
        + len(PIPELINE_PHOTOS) * 2
        + len(batch_sizes) * 4
        + len(index_sizes)
        + (0 if args.skip_database else len(database_sizes))
    )
    with tqdm(total=steps, desc="verify bench", unit="step") as progress:
        corpus = corpus_fingerprints(corpus_size, copies_of, progress)
        index = MemoryDuplicateIndex()
        index.add_many(((fp.sha256, fp) for fp in corpus["distinct"]), RULES)
        results: dict[str, Any] = {
            "ran_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, torch {torch.__version__}",
            "quick": quick,
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
            "rates": bench_rates(corpus),
            "pipeline": bench_pipeline(index, rounds, progress),
            CLIP_KEY: bench_clip(batch_sizes, index, progress),
            "vision_server": bench_server(batch_sizes, index, progress),
            "memory_index": bench_memory_index(corpus, index_sizes, progress),
            "database_index": None
            if args.skip_database
            else bench_database_index(corpus, database_sizes, progress),
        }
    results["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_readme(results)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
