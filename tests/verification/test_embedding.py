"""The cheap image descriptor used when no vision model is configured, and how the pipeline
labels the embedding it stores."""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from tests.verification.conftest import photo_bytes
from verification.embedding import DIMENSIONS, TINY_IMAGE_MODEL, tiny_embedding
from verification.pipeline import run_all_checks, run_fast_checks


def photo(name: str = "DSCN0010.jpg") -> Image.Image:
    image = Image.open(io.BytesIO(photo_bytes(name)))
    image.load()
    return image


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # both are unit vectors


def test_it_is_a_deterministic_unit_vector_of_512_floats():
    first, second = tiny_embedding(photo()), tiny_embedding(photo())
    assert len(first) == DIMENSIONS == 512
    assert first == second
    assert abs(np.linalg.norm(first) - 1) < 1e-4


def test_it_sees_the_same_picture_through_resizing_and_recompression():
    original = photo()
    smaller = original.resize((320, 240))
    buffer = io.BytesIO()
    smaller.save(buffer, "JPEG", quality=60)
    recompressed = Image.open(buffer)
    other = photo("Canon_40D.jpg")
    same = cosine(tiny_embedding(original), tiny_embedding(recompressed))
    different = cosine(tiny_embedding(original), tiny_embedding(other))
    assert same > 0.98
    assert different < same - 0.05


def test_it_tells_brightness_and_where_the_structure_is():
    dark = ImageEnhance.Brightness(photo()).enhance(0.3)
    assert cosine(tiny_embedding(photo()), tiny_embedding(dark)) < 0.97
    # Stripes on the left half versus the right half: same content, another layout.
    left, right = Image.new("RGB", (128, 128), "grey"), Image.new("RGB", (128, 128), "grey")
    for x in range(0, 64, 8):
        ImageDraw.Draw(left).rectangle([x, 0, x + 3, 127], fill="white")
        ImageDraw.Draw(right).rectangle([x + 64, 0, x + 67, 127], fill="white")
    assert cosine(tiny_embedding(left), tiny_embedding(right)) < 0.9


def test_it_accepts_any_mode_and_orientation_is_the_callers():
    grey = photo().convert("L")
    palette = photo().convert("P")
    assert len(tiny_embedding(grey)) == len(tiny_embedding(palette)) == DIMENSIONS
    rotated = photo().rotate(90, expand=True)
    assert cosine(tiny_embedding(photo()), tiny_embedding(rotated)) < 0.98


def test_without_a_model_the_pipeline_stores_the_tiny_embedding(now, target, fresh_dscn0010):
    fast = run_fast_checks(data=fresh_dscn0010, target=target, received_at=now)
    assert fast.facts is not None
    assert fast.facts.embedding is None and fast.facts.embedding_model == ""
    result = run_all_checks(data=fresh_dscn0010, target=target, received_at=now, scorer=None)
    assert result.facts is not None
    assert result.facts.embedding_model == TINY_IMAGE_MODEL
    decoded = Image.open(io.BytesIO(fresh_dscn0010))
    assert result.facts.embedding == tiny_embedding(decoded)  # of the decoded photo
    facts = result.to_dict()["facts"]
    assert facts["embedding_model"] == "tiny-image-v1"
    assert len(facts["embedding"]) == DIMENSIONS


def test_with_a_model_the_pipeline_stores_its_embedding_and_names_it(
    now, target, fresh_dscn0010, scorer, tiny_clip_dir: Path
):
    result = run_all_checks(data=fresh_dscn0010, target=target, received_at=now, scorer=scorer)
    assert result.facts is not None
    assert result.facts.embedding_model == f"clip:{tiny_clip_dir.name}"
    assert result.facts.embedding is not None
    assert len(result.facts.embedding) == 16  # the tiny CLIP's, not the descriptor's
