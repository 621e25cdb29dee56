"""Counting real pixel decodes: a Pillow image's `load` while it still has pixels to read (a
second `load` of the same image, as `convert` does, is free and not counted)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import ImageFile


@dataclass
class Decodes:
    count: int = 0
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def counting_decodes(*, pause_s: float = 0.0) -> Iterator[Decodes]:
    """Count the JPEG and PNG decodes inside the block, and how many ran at once (each held for
    `pause_s` more, so that overlapping threads show)."""
    decodes = Decodes()
    original = ImageFile.ImageFile.load

    def load(image: ImageFile.ImageFile, *args: Any, **kwargs: Any) -> Any:
        if not image.tile:
            return original(image, *args, **kwargs)
        with decodes.lock:
            decodes.count += 1
            decodes.running += 1
            decodes.most_at_once = max(decodes.most_at_once, decodes.running)
        try:
            time.sleep(pause_s)
            return original(image, *args, **kwargs)
        finally:
            with decodes.lock:
                decodes.running -= 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", load)
        yield decodes
