"""The forecasting model: P(yes) from a question and a set of evidence items. Plain torch, no
Django, so it can be trained, benchmarked and run on a GPU box alone.

The question is read through a frozen text encoder (all-MiniLM-L6-v2 in production: its
embedding comes in as ``text``); each evidence item is its image embedding plus a few numbers
(distance to the target, hours before the close, the worker's reputation). Items are projected,
then pooled with attention whose query comes from the question, so the model can weigh the
photos that matter for this question; a question without evidence pools to zeros and is told
so by the evidence count.
"""

from dataclasses import dataclass

import torch
from torch import nn

META_FEATURES = 4  # distance_km / 10, hours_before_close / 24, reputation, has_embedding


@dataclass(frozen=True)
class ModelConfig:
    text_dim: int = 384
    image_dim: int = 512
    hidden: int = 64
    dropout: float = 0.1


@dataclass
class Batch:
    """``text``: (B, text_dim); ``images``: (B, N, image_dim); ``meta``: (B, N, META_FEATURES);
    ``mask``: (B, N), True where an evidence item exists."""

    text: torch.Tensor
    images: torch.Tensor
    meta: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(
            self.text.to(device), self.images.to(device), self.meta.to(device),
            self.mask.to(device),
        )  # fmt: skip


class ForecastModel(nn.Module):
    text_mean: torch.Tensor
    text_std: torch.Tensor
    image_mean: torch.Tensor
    image_std: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:

        super().__init__()
        self.config = config
        # Per-dimension standardisation of the inputs, fitted on the training set (buffers: saved
        # and loaded with the weights). Embeddings arrive L2-normalised, so each dimension is
        # tiny and the differences that matter tinier: unscaled, the first layer barely sees them.
        self.register_buffer("text_mean", torch.zeros(config.text_dim))
        self.register_buffer("text_std", torch.ones(config.text_dim))
        self.register_buffer("image_mean", torch.zeros(config.image_dim))
        self.register_buffer("image_std", torch.ones(config.image_dim))
        self.text = nn.Sequential(nn.Linear(config.text_dim, config.hidden), nn.GELU())
        self.item = nn.Sequential(
            nn.Linear(config.image_dim + META_FEATURES, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden),
        )
        self.query = nn.Linear(config.hidden, config.hidden)
        self.head = nn.Sequential(
            nn.Linear(2 * config.hidden + 1, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 1),
        )

    @torch.no_grad()
    def fit_normalisation(self, batch: Batch) -> None:
        """Standardise inputs with the statistics of ``batch`` (the training set); images only
        where an embedding exists (the has_embedding flag is the last meta feature)."""
        self.text_mean.copy_(batch.text.mean(dim=0))
        # floors: a dimension that barely varied in training must not explode on new text
        self.text_std.copy_(batch.text.std(dim=0).nan_to_num(1.0).clamp(min=1e-2))
        present = batch.mask & (batch.meta[..., -1] > 0)
        images = batch.images[present]
        if len(images) > 1:
            self.image_mean.copy_(images.mean(dim=0))
            self.image_std.copy_(images.std(dim=0).clamp(min=1e-3))

    def forward(self, batch: Batch) -> torch.Tensor:
        """Logits of P(yes), shape (B,)."""
        question = self.text((batch.text - self.text_mean) / self.text_std)  # (B, H)
        present = (batch.mask & (batch.meta[..., -1] > 0)).unsqueeze(-1)
        images = torch.where(present, (batch.images - self.image_mean) / self.image_std, 0.0)
        items = self.item(torch.cat([images, batch.meta], dim=-1))  # (B, N, H)

        scores = torch.einsum("bh,bnh->bn", self.query(question), items)
        scores = scores / self.config.hidden**0.5
        scores = scores.masked_fill(~batch.mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # no evidence: all zeros
        pooled = torch.einsum("bn,bnh->bh", weights, items)
        count = batch.mask.sum(dim=-1, keepdim=True).float().log1p()
        return self.head(torch.cat([question, pooled, count], dim=-1)).squeeze(-1)

    @torch.no_grad()
    def draws(self, batch: Batch, samples: int) -> torch.Tensor:
        """MC dropout: P(yes) from ``samples`` stochastic passes, shape (samples, B)."""
        self.train()  # dropout on
        try:
            return torch.stack([torch.sigmoid(self(batch)) for _ in range(samples)])
        finally:
            self.eval()

    @torch.no_grad()
    def predict(self, batch: Batch, *, samples: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """P(yes) and its spread. With ``samples`` > 0, MC dropout: the mean and standard
        deviation over that many stochastic passes."""
        if samples <= 0:
            self.eval()
            probability = torch.sigmoid(self(batch))
            return probability, torch.zeros_like(probability)
        draws = self.draws(batch, samples)
        return draws.mean(dim=0), draws.std(dim=0)
