"""A tiny random CLIP saved like a real one (see shared/MODELS.md): real loading code path,
meaningless scores."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    CLIPTextConfig,
    CLIPTokenizer,
    CLIPVisionConfig,
)

_WORDS = [
    "a",
    "photo",
    "of",
    "the",
    "queue",
    "outside",
    "store",
    "screen",
    "screenshot",
    "blank",
    "image",
    "an",
    "indoor",
    "street",
    "people",
    "shop",
    "door",
    "sky",
    "car",
    "tree",
    "building",
]


def clip_processor(directory: Path, image_size: int = 32) -> CLIPProcessor:
    """A CLIP processor from a hand-written vocabulary (files written into `directory`)."""
    directory.mkdir(parents=True, exist_ok=True)
    special = ["<|pad|>", "<|startoftext|>", "<|endoftext|>"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = special + [f"{w}</w>" for w in _WORDS] + [f"{c}</w>" for c in letters] + letters
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        pad_token="<|pad|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=32,
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_tiny_clip(directory: Path) -> Path:
    """Save a tiny random CLIP and its processor into `directory`, as an operator would."""
    clip_processor(directory).save_pretrained(directory)
    config = CLIPConfig(
        text_config=CLIPTextConfig(
            vocab_size=1000,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=32,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        ).to_dict(),
        vision_config=CLIPVisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
        ).to_dict(),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(directory)
    return directory
