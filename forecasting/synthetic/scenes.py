"""Procedural photos of three kinds of scene, each showing a noisy view of a latent state.

- ``queue``: people queueing outside a shop (the state: how many queue at closing),
- ``crowd``: people in a town square seen from above (the state: how many are there),
- ``lights``: an apartment block at night (the state: the fraction of lit windows).

A photo is taken some time before the question closes, so it shows the state with noise (the
queue grows and shrinks, people come and go), through a jittered camera (framing, tilt,
exposure, white balance, sensor noise, blur) with occluders (cars, trees, passers-by). Some
photos are decoys: another scene altogether, or the right scene at a misleading moment.
No Django here: a scene is pure Pillow and numpy, deterministic given its random generator.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

WIDTH, HEIGHT = 320, 240
CANVAS = (400, 300)  # drawn larger, then cropped: framing and zoom vary
QUEUE_THRESHOLD = 8  # people
CROWD_THRESHOLD = 40  # people
LIGHTS_THRESHOLD = 0.5  # fraction of lit windows
WRONG_SCENE_RATE = 0.07
MISLEADING_RATE = 0.08

Colour = tuple[int, int, int]
Draw = ImageDraw.ImageDraw

SKIN = [(241, 194, 167), (224, 172, 135), (198, 134, 95), (141, 85, 54), (92, 58, 38)]
CLOTHES = [
    (200, 40, 40), (40, 60, 160), (30, 30, 30), (230, 230, 230), (60, 130, 60),
    (240, 190, 40), (120, 70, 140), (90, 90, 100), (180, 110, 60), (40, 140, 170),
]  # fmt: skip
WALLS = [(196, 164, 132), (220, 205, 180), (170, 90, 70), (140, 150, 160), (235, 225, 200)]
PAVEMENT = [(170, 165, 155), (190, 180, 160), (150, 150, 150), (200, 190, 175)]


@dataclass(frozen=True)
class Scene:
    name: str
    draw_state: Callable[[np.random.Generator], dict[str, Any]]
    is_yes: Callable[[dict[str, Any]], bool]
    paint: Callable[[dict[str, Any], np.random.Generator], Image.Image]


def _colour(rng: np.random.Generator, palette: list[Colour], spread: int = 18) -> Colour:
    base = palette[int(rng.integers(len(palette)))]
    return tuple(int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in base)  # type: ignore[return-value]


def _scale(colour: Colour, factor: float) -> Colour:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)  # type: ignore[return-value]


def person(draw: Draw, x: float, feet_y: float, height: float, rng: np.random.Generator) -> None:
    """A person-like figure standing at (x, feet_y), facing the camera or side-on."""
    head = height * 0.11
    torso_w = height * rng.uniform(0.22, 0.32)
    shoulders = feet_y - height + 2 * head
    hips = shoulders + height * 0.38
    legs = _colour(rng, [(40, 40, 60), (60, 60, 60), (30, 50, 90), (110, 90, 70)])
    leg_w = torso_w * 0.38
    draw.rectangle([x - torso_w / 2, hips, x - torso_w / 2 + leg_w, feet_y], fill=legs)
    draw.rectangle([x + torso_w / 2 - leg_w, hips, x + torso_w / 2, feet_y], fill=legs)
    draw.rounded_rectangle(
        [x - torso_w / 2, shoulders, x + torso_w / 2, hips + height * 0.04],
        radius=max(1.0, torso_w / 4),
        fill=_colour(rng, CLOTHES),
    )
    draw.ellipse([x - head, shoulders - 2 * head, x + head, shoulders], fill=_colour(rng, SKIN))
    if rng.random() < 0.3:  # a hat or dark hair
        draw.chord(
            [x - head, shoulders - 2 * head, x + head, shoulders - head * 0.6],
            180, 360, fill=_colour(rng, [(30, 25, 20), (90, 60, 30), (20, 20, 20)]),
        )  # fmt: skip


def _car(draw: Draw, x: float, y: float, length: float, rng: np.random.Generator) -> None:
    body = _colour(rng, CLOTHES, spread=30)
    height = length * 0.32
    draw.rounded_rectangle([x, y - height, x + length, y], radius=height / 4, fill=body)
    draw.rounded_rectangle(
        [x + length * 0.2, y - height * 1.6, x + length * 0.75, y - height * 0.9],
        radius=height / 5, fill=_scale(body, 0.8),
    )  # fmt: skip
    for wheel in (x + length * 0.2, x + length * 0.8):
        r = height * 0.3
        draw.ellipse([wheel - r, y - r, wheel + r, y + r], fill=(20, 20, 20))


def _tree(draw: Draw, x: float, base_y: float, size: float, rng: np.random.Generator) -> None:
    draw.rectangle(
        [x - size * 0.06, base_y - size * 0.6, x + size * 0.06, base_y], fill=(80, 55, 35)
    )
    leaves = _colour(rng, [(60, 110, 50), (40, 90, 40), (90, 130, 60)], spread=20)
    draw.ellipse(
        [x - size * 0.35, base_y - size, x + size * 0.35, base_y - size * 0.45], fill=leaves
    )


# --- Queue outside a shop -------------------------------------------------------------------


def queue_state(rng: np.random.Generator) -> dict[str, Any]:
    return {"queue": int(rng.integers(0, 18))}


def queue_paint(state: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    width, height = CANVAS
    sky = _colour(rng, [(170, 200, 230), (200, 205, 210), (150, 180, 220)])
    image = Image.new("RGB", CANVAS, sky)
    draw = ImageDraw.Draw(image)
    top, ground = height * rng.uniform(0.08, 0.2), height * rng.uniform(0.7, 0.78)
    wall = _colour(rng, WALLS)
    draw.rectangle([0, top, width, ground], fill=wall)
    for column in range(int(rng.integers(3, 7))):  # upper-floor windows
        wx = width * (0.05 + column * 0.16) + rng.uniform(-4, 4)
        draw.rectangle([wx, top + 10, wx + 24, top + 40], fill=_scale(sky, 0.6))
    door_x = width * rng.uniform(0.06, 0.2)
    door_w, sign_y = width * 0.09, ground - height * rng.uniform(0.4, 0.48)
    draw.rectangle(
        [door_x - 12, sign_y, door_x + width * 0.45, sign_y + 16], fill=_colour(rng, CLOTHES)
    )
    draw.rectangle([door_x, sign_y + 22, door_x + door_w, ground], fill=(60, 45, 35))
    draw.rectangle(
        [door_x + door_w + 8, sign_y + 24, door_x + width * 0.45, ground - 22],
        fill=_scale(sky, 0.75), outline=_scale(wall, 0.5), width=3,
    )  # fmt: skip
    draw.rectangle([0, ground, width, height], fill=_colour(rng, PAVEMENT))
    draw.line(
        [0, ground + height * 0.17, width, ground + height * 0.17], fill=(110, 110, 110), width=3
    )
    # At the photo's moment the queue is the closing-time queue, give or take.
    shown = max(0, round(state["queue"] + rng.normal(0, 2.0)))
    figure_h = height * rng.uniform(0.27, 0.34)
    spacing = figure_h * rng.uniform(0.26, 0.36)
    for position in range(shown):
        x = door_x + door_w / 2 + position * spacing + rng.uniform(-3, 3)
        person(
            draw,
            x,
            ground + height * 0.1 + rng.uniform(-4, 4),
            figure_h * rng.uniform(0.9, 1.1),
            rng,
        )
    for _ in range(int(rng.integers(0, 3))):  # passers-by, nearer the camera
        person(draw, rng.uniform(0, width), height * rng.uniform(0.95, 1.05), figure_h * 1.4, rng)
    if rng.random() < 0.35:
        _car(
            draw, rng.uniform(-60, width - 100), height * 0.99, width * rng.uniform(0.3, 0.45), rng
        )
    return image


# --- Crowd in a square ----------------------------------------------------------------------


def crowd_state(rng: np.random.Generator) -> dict[str, Any]:
    return {"people": int(rng.integers(0, 81))}


def crowd_paint(state: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    width, height = CANVAS
    image = Image.new("RGB", CANVAS, _colour(rng, PAVEMENT))
    draw = ImageDraw.Draw(image)
    horizon = height * rng.uniform(0.18, 0.3)
    x = 0.0
    while x < width:  # the buildings around the square
        w = rng.uniform(40, 90)
        draw.rectangle([x, 0, x + w, horizon], fill=_colour(rng, WALLS))
        for wy in np.arange(8, horizon - 12, 18):
            draw.rectangle([x + 8, wy, x + w - 8, wy + 8], fill=(70, 80, 95))
        x += w
    tile = _scale(_colour(rng, PAVEMENT), 0.85)
    for row in range(1, 12):
        y = horizon + (height - horizon) * (row / 12) ** 1.3
        draw.line([0, y, width, y], fill=tile, width=1)
    fx, fy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.45, 0.7) * height
    draw.ellipse(
        [fx - 40, fy - 16, fx + 40, fy + 16], fill=(150, 150, 160), outline=(90, 90, 90), width=3
    )
    draw.ellipse([fx - 28, fy - 10, fx + 28, fy + 10], fill=(90, 140, 190))
    if rng.random() < 0.5:  # a building's shadow across part of the square
        edge = rng.uniform(0.2, 0.8) * width
        shadow = Image.new("L", CANVAS, 0)
        ImageDraw.Draw(shadow).polygon(
            [(0, horizon), (edge, horizon), (edge - 80, height), (0, height)], fill=90
        )
        image.paste((0, 0, 0), mask=shadow)
    shown = max(0, round(state["people"] * rng.uniform(0.7, 1.3)))
    centres = [(rng.uniform(0.1, 0.9) * width, rng.uniform(0.4, 0.95) * height) for _ in range(3)]
    spots = []
    for _ in range(shown):
        if rng.random() < 0.5:  # people gather in groups
            cx, cy = centres[int(rng.integers(len(centres)))]
            spots.append((cx + rng.normal(0, 30), cy + rng.normal(0, 15)))
        else:
            spots.append((rng.uniform(0, width), rng.uniform(horizon + 10, height)))
    for px, py in sorted(spots, key=lambda spot: spot[1]):  # far ones first
        depth = (py - horizon) / (height - horizon)
        person(draw, px, py, 14 + 30 * depth, rng)
    for _ in range(int(rng.integers(0, 4))):
        _tree(
            draw, rng.uniform(0, width), height * rng.uniform(0.9, 1.1), rng.uniform(80, 130), rng
        )
    return image


# --- Lights on or off in a building at night -------------------------------------------------


def lights_state(rng: np.random.Generator) -> dict[str, Any]:
    return {"lit_fraction": round(float(rng.uniform(0.05, 0.95)), 3)}


def lights_paint(state: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    width, height = CANVAS
    sky_top = _colour(rng, [(8, 12, 35), (15, 15, 30), (20, 25, 50)], spread=6)
    image = Image.new("RGB", CANVAS, sky_top)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 6):  # the sky brightens towards the city's glow
        draw.rectangle([0, y, width, y + 6], fill=_scale(sky_top, 1 + 1.5 * y / height))
    for _ in range(int(rng.integers(0, 25))):
        sx, sy = rng.uniform(0, width), rng.uniform(0, height * 0.3)
        draw.point((sx, sy), fill=(200, 200, 220))
    left, right = width * rng.uniform(0.15, 0.3), width * rng.uniform(0.7, 0.85)
    roof, ground = height * rng.uniform(0.08, 0.2), height * rng.uniform(0.85, 0.95)
    facade = _colour(rng, [(45, 45, 50), (55, 50, 45), (35, 40, 50)], spread=8)
    for side in (0, 1):  # neighbours, their own lights on or off (no bearing on the question)
        x0 = 0 if side == 0 else right + 6
        x1 = left - 6 if side == 0 else width
        top = height * rng.uniform(0.25, 0.5)
        draw.rectangle([x0, top, x1, ground], fill=_scale(facade, 0.8))
        for wy in np.arange(top + 10, ground - 20, 26):
            for wx in np.arange(x0 + 6, x1 - 14, 22):
                lit = rng.random() < 0.3
                draw.rectangle(
                    [wx, wy, wx + 10, wy + 14], fill=(230, 200, 120) if lit else (18, 20, 28)
                )
    draw.rectangle([left, roof, right, ground], fill=facade)
    rows, columns = int(rng.integers(4, 8)), int(rng.integers(4, 8))
    cell_w, cell_h = (right - left) / columns, (ground - roof - 20) / rows
    # At the photo's moment, a few people have not yet switched on (or off).
    lit_chance = float(np.clip(state["lit_fraction"] + rng.normal(0, 0.12), 0, 1))
    for row in range(rows):
        for column in range(columns):
            wx, wy = left + column * cell_w + cell_w * 0.2, roof + 10 + row * cell_h + cell_h * 0.2
            box = [wx, wy, wx + cell_w * 0.6, wy + cell_h * 0.6]
            if rng.random() < lit_chance:
                warm = _colour(rng, [(255, 225, 150), (250, 240, 200), (255, 190, 110)], spread=10)
                draw.rectangle(box, fill=_scale(warm, rng.uniform(0.6, 1.0)))
            else:
                draw.rectangle(box, fill=_scale((25, 28, 40), rng.uniform(0.7, 1.6)))
    for _ in range(int(rng.integers(0, 3))):  # street lamps, bright whatever the building does
        lx = rng.uniform(0, width)
        draw.line([lx, height, lx, height * 0.62], fill=(30, 30, 30), width=4)
        glow = Image.new("L", CANVAS, 0)
        ImageDraw.Draw(glow).ellipse([lx - 30, height * 0.55, lx + 30, height * 0.69], fill=200)
        image.paste((255, 210, 140), mask=glow.filter(ImageFilter.GaussianBlur(10)))
    if rng.random() < 0.4:
        _tree(
            ImageDraw.Draw(image), rng.uniform(0, width), height * 1.05, rng.uniform(120, 200), rng
        )
    return image


SCENES: dict[str, Scene] = {
    "queue": Scene("queue", queue_state, lambda s: s["queue"] > QUEUE_THRESHOLD, queue_paint),
    "crowd": Scene("crowd", crowd_state, lambda s: s["people"] > CROWD_THRESHOLD, crowd_paint),
    "lights": Scene(
        "lights", lights_state, lambda s: s["lit_fraction"] > LIGHTS_THRESHOLD, lights_paint
    ),
}


def _camera(image: Image.Image, rng: np.random.Generator, *, night: bool) -> Image.Image:
    """The same scene as a hand-held phone sees it: framing, tilt, exposure, colour, noise."""
    width, height = image.size
    zoom = rng.uniform(0.78, 0.92)
    crop_w, crop_h = width * zoom, height * zoom
    x0, y0 = rng.uniform(0, width - crop_w), rng.uniform(0, height - crop_h)
    image = image.rotate(rng.uniform(-3, 3), resample=Image.Resampling.BILINEAR, expand=False)
    image = image.crop((int(x0), int(y0), int(x0 + crop_w), int(y0 + crop_h)))
    image = image.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    if rng.random() < 0.2:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    exposure = rng.uniform(0.6, 1.5) if night else rng.uniform(0.75, 1.25)
    image = ImageEnhance.Brightness(image).enhance(exposure)
    balanced = np.asarray(image, dtype=np.float64) * rng.uniform(0.9, 1.1, size=3)
    noisy = balanced + rng.normal(0, rng.uniform(2, 10 if night else 6), size=balanced.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    kind: str  # "scene", "misleading" (the scene at another moment) or "wrong_scene"
    scene: str  # what it shows


def render(scene_name: str, state: dict[str, Any], rng: np.random.Generator) -> Photo:
    """One evidence photo for a question about ``state``, decoys included at their rates."""
    roll = rng.random()
    kind, shown_scene, shown_state = "scene", scene_name, state
    if roll < WRONG_SCENE_RATE:
        others = sorted(name for name in SCENES if name != scene_name)
        shown_scene = others[int(rng.integers(len(others)))]
        kind, shown_state = "wrong_scene", SCENES[shown_scene].draw_state(rng)
    elif roll < WRONG_SCENE_RATE + MISLEADING_RATE:
        kind, shown_state = "misleading", SCENES[scene_name].draw_state(rng)
    return Photo(render_scene(shown_scene, shown_state, rng), kind, shown_scene)


def render_scene(scene_name: str, state: dict[str, Any], rng: np.random.Generator) -> bytes:
    """A JPEG of the scene showing ``state`` (never a decoy)."""
    image = _camera(SCENES[scene_name].paint(state, rng), rng, night=scene_name == "lights")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(75, 93)))
    return buffer.getvalue()
