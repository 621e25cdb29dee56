"""The vision-language model behind the relevance check. Plain Python (no Django), so it can
be tested, benchmarked and run on a GPU box alone.

A CLIP-family model is loaded once per process from a directory filled by the operator
(`from_pretrained(dir, local_files_only=True)`: nothing is downloaded at run time). An image is
scored against the bounty's text versus generic negatives as a softmax probability.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor

from verification.batching import MicroBatcher
from verification.checks import CheckName

NEGATIVE_PROMPTS: tuple[str, ...] = (
    "a photo of a screen",
    "a screenshot",
    "a blank image",
    "an indoor photo",
    "a photo of a printed picture",
    "a drawing",
)


@dataclass(frozen=True)
class RelevanceScore:
    probability: float  # P(verify text) in a softmax over [verify text, *negatives]
    embedding: list[float]  # L2-normalised image embedding
    best_negative: str
    best_negative_probability: float


@dataclass(frozen=True)
class RelevanceRequest:
    image: Image.Image | None  # None when `pixels` is given
    text: str
    # The image already preprocessed (1, 3, H, W) by the caller, or None to do it in the batch.
    pixels: torch.Tensor | None = None


def pick_device() -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype
    return torch.device("cpu"), torch.float32


class Preprocessor:
    """The image half of a CLIP-family processor: what runs on the CPU before the model, in
    the caller's thread (or in a worker process that sends the result to a vision server)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    @classmethod
    def from_directory(cls, directory: str | Path) -> Preprocessor:
        return cls(AutoProcessor.from_pretrained(directory, local_files_only=True))

    @torch.inference_mode()
    def pixels(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The processor's pixel values (float32, on the CPU). A big photo is first box-reduced
        by an integer factor to no less than twice the model's input side, so the processor's
        bicubic resize works on ~0.3 megapixels instead of the full photo (a 9-megapixel photo:
        ~120 ms to ~10 ms)."""
        return self.processor.image_processor(
            images=[self._prepared(image) for image in images], return_tensors="pt"
        )["pixel_values"]

    def _prepared(self, image: Image.Image) -> Image.Image:
        factor = min(image.size) // (2 * self._input_side)
        if factor > 1:
            image = image.reduce(factor)
        return image if image.mode == "RGB" else image.convert("RGB")

    @property
    def _input_side(self) -> int:
        size = getattr(self.processor.image_processor, "crop_size", None)
        height = getattr(size, "height", None)
        if height is None and isinstance(size, dict):
            height = size.get("height")
        return int(height or 224)


class VisionModel:
    """One loaded model and processor. Thread-safe: forward passes are serialised."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        device: torch.device,
        dtype: torch.dtype,
        negatives: Sequence[str] = NEGATIVE_PROMPTS,
    ) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self.negatives = tuple(negatives)
        self.preprocessor = Preprocessor(processor)
        self._lock = threading.Lock()
        self._text_cache: dict[str, torch.Tensor] = {}
        self.forward_passes = 0  # image forward passes, and the seconds spent in them (metrics)
        self.forward_seconds = 0.0

    @classmethod
    def from_directory(cls, directory: str | Path) -> VisionModel:
        device, dtype = pick_device()
        model = AutoModel.from_pretrained(directory, local_files_only=True, dtype=dtype)
        model.to(device)
        model.eval()
        processor = AutoProcessor.from_pretrained(directory, local_files_only=True)
        return cls(model, processor, device=device, dtype=dtype)

    @torch.inference_mode()
    def pixels(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return self.preprocessor.pixels(images)

    @torch.inference_mode()
    def image_embeddings(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return self.embed_pixels(self.pixels(images))

    @torch.inference_mode()
    def embed_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.device, self.dtype)
        with self._lock:
            started = time.perf_counter()
            features = _features(self.model.get_image_features(pixel_values=pixels))
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)  # so the seconds below are the GPU's
            self.forward_passes += 1

            self.forward_seconds += time.perf_counter() - started
        return torch.nn.functional.normalize(features.float(), dim=-1)

    @torch.inference_mode()
    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        missing = [text for text in dict.fromkeys(texts) if text not in self._text_cache]
        if missing:
            max_length = self.model.config.text_config.max_position_embeddings
            tokens = self.processor.tokenizer(
                missing, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(self.device)
            with self._lock:
                features = _features(self.model.get_text_features(**tokens))
            normalised = torch.nn.functional.normalize(features.float(), dim=-1)
            for text, row in zip(missing, normalised, strict=True):
                self._text_cache[text] = row
        return torch.stack([self._text_cache[text] for text in texts])

    def _pixels_of(self, request: RelevanceRequest) -> torch.Tensor:
        if request.image is None:
            raise ValueError("a request needs an image or its pixels")
        return self.pixels([request.image])

    @torch.inference_mode()
    def score(self, requests: Sequence[RelevanceRequest]) -> list[RelevanceScore]:
        """Score a batch in one image forward pass (texts are cached per process)."""
        if not requests:
            return []
        pixels = torch.cat(
            [
                request.pixels if request.pixels is not None else self._pixels_of(request)
                for request in requests
            ]
        )
        images = self.embed_pixels(pixels)
        negatives = self.text_embeddings(self.negatives)
        positives = self.text_embeddings([request.text for request in requests])
        scale = float(self.model.logit_scale.exp().clamp(max=100))
        scores = []
        for image, positive in zip(images, positives, strict=True):
            texts = torch.cat([positive[None], negatives])
            probabilities = torch.softmax(scale * texts @ image, dim=0)
            worst = int(torch.argmax(probabilities[1:]))
            scores.append(
                RelevanceScore(
                    probability=float(probabilities[0]),
                    embedding=[float(v) for v in image],
                    best_negative=self.negatives[worst],
                    best_negative_probability=float(probabilities[1 + worst]),
                )
            )
        return scores


def _features(output: Any) -> torch.Tensor:
    # transformers 5 returns a model output (projected features in `pooler_output`); 4.x a tensor.
    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


class RelevanceScorer:
    """The model behind a micro-batcher: concurrent `score` calls share forward passes; each
    caller preprocesses its own image first, so the batch thread only runs the model."""

    def __init__(
        self, model: VisionModel, *, max_batch_size: int = 16, max_wait_s: float = 0.02
    ) -> None:
        self.model = model
        self.batcher: MicroBatcher[RelevanceRequest, RelevanceScore] = MicroBatcher(
            model.score,
            max_batch_size=max_batch_size,
            max_wait_s=max_wait_s,
            name=CheckName.RELEVANCE,
        )

    def score(self, image: Image.Image, text: str, timeout: float | None = 60.0) -> RelevanceScore:
        # Preprocessing here, in the caller's thread: concurrent callers prepare their images
        # in parallel (Pillow and torch release the GIL) while the batch thread runs the model.
        pixels = self.model.pixels([image])
        return self.batcher(RelevanceRequest(image, text, pixels), timeout=timeout)

    def close(self) -> None:
        self.batcher.close()


_scorers: dict[tuple[str, int, float], RelevanceScorer] = {}
_scorers_lock = threading.Lock()


def get_scorer(
    directory: str | Path | None, *, max_batch_size: int = 16, max_wait_s: float = 0.02
) -> RelevanceScorer | None:
    """The process-wide scorer for `directory` (loaded on first use), or None when no model
    directory is configured."""
    if not directory:
        return None
    key = (str(Path(directory).resolve()), max_batch_size, max_wait_s)
    with _scorers_lock:
        scorer = _scorers.get(key)
        if scorer is None:
            model = VisionModel.from_directory(directory)
            scorer = RelevanceScorer(model, max_batch_size=max_batch_size, max_wait_s=max_wait_s)
            _scorers[key] = scorer
        return scorer
