"""The drawing of the synthetic MOTS set (:mod:`trackrcnn_d2.data.synthetic`): its objects
(textured cars and walking pedestrians, with perspective), the static street scene and the
cluttered crowd patch that becomes an ignore region. Imports neither torch nor detectron2."""
import colorsys
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from trackrcnn_d2.data import mots_io

__all__ = ["SyntheticObject", "new_object", "render_object", "background", "crowd_patch"]


@dataclass
class SyntheticObject:
    obj_id: int
    class_id: int
    x: float  # horizontal centre, pixels
    bottom: float  # y of the lowest pixel, pixels; also the depth order (larger = nearer)
    vx: float
    vy: float
    body_colour: np.ndarray  # (3,) float RGB in [0, 255]
    second_colour: np.ndarray  # (3,)
    stripe_period: float
    stripe_angle: float
    walk_phase: float

    def scale(self, height: int) -> float:
        # Perspective: objects lower in the image are nearer and larger.
        return 0.55 + 0.75 * (self.bottom - 0.5 * height) / (0.5 * height)

    def size(self, height: int) -> Tuple[float, float]:
        """(width, height) in pixels."""
        s = self.scale(height)
        if self.class_id == mots_io.CAR:
            return 0.45 * height * s, 0.22 * height * s
        return 0.17 * height * s, 0.42 * height * s


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v)) * 255.0


def new_object(rng, class_id, obj_id, height, width, at_edge) -> SyntheticObject:
    speed_scale = width / 256.0
    if class_id == mots_io.CAR:
        hue = rng.uniform(-0.05, 0.05) if rng.random() < 0.5 else rng.uniform(0.55, 0.68)
        body = _hsv(hue, rng.uniform(0.6, 0.95), rng.uniform(0.6, 0.95))
        second = _hsv(hue + rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.4), rng.uniform(0.8, 1.0))
        speed = rng.uniform(1.5, 3.5) * speed_scale
        vy = 0.0
        bottom = rng.uniform(0.6, 0.98) * height
    else:
        hue = rng.uniform(0.12, 0.45)
        body = _hsv(hue, rng.uniform(0.55, 0.95), rng.uniform(0.65, 1.0))
        second = _hsv(rng.uniform(0.7, 0.9), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.5))
        speed = rng.uniform(0.5, 1.5) * speed_scale
        vy = rng.uniform(-0.3, 0.3) * height / 128.0
        bottom = rng.uniform(0.6, 0.98) * height
    direction = 1.0 if rng.random() < 0.5 else -1.0
    obj = SyntheticObject(
        obj_id=obj_id,
        class_id=class_id,
        x=0.0,
        bottom=bottom,
        vx=direction * speed,
        vy=vy,
        body_colour=body,
        second_colour=second,
        stripe_period=rng.uniform(4.0, 10.0),
        stripe_angle=rng.uniform(0.0, np.pi),
        walk_phase=rng.uniform(0.0, 2 * np.pi),
    )
    object_width = obj.size(height)[0]
    if at_edge:
        # Just outside the border it moves away from, so it enters over the next frames.
        obj.x = -object_width / 2 if direction > 0 else width + object_width / 2
    else:
        obj.x = rng.uniform(0.1, 0.9) * width
    return obj


def render_object(obj: SyntheticObject, height: int, frame: int):
    """Mask and colours of one object on its own pixel grid.

    Returns ``(x0, y0, mask, colours)``: the grid's top-left corner in image pixels, an
    ``h x w`` bool mask and ``h x w x 3`` float colours.
    """
    object_width, object_height = obj.size(height)
    x0 = int(np.floor(obj.x - object_width / 2))
    y0 = int(np.floor(obj.bottom - object_height))
    grid_w = int(np.ceil(object_width)) + 2
    grid_h = int(np.ceil(object_height)) + 2
    ys, xs = np.mgrid[0:grid_h, 0:grid_w].astype(np.float32)
    # Normalised coordinates: u in [0, 1] left to right, v in [0, 1] top to bottom.
    u = (xs + x0 + 0.5 - (obj.x - object_width / 2)) / object_width
    v = (ys + y0 + 0.5 - (obj.bottom - object_height)) / object_height

    colours = np.empty((grid_h, grid_w, 3), dtype=np.float32)
    colours[:] = obj.body_colour
    # Object-specific stripes modulate the body brightness: an identity cue.
    along = xs * np.cos(obj.stripe_angle) + ys * np.sin(obj.stripe_angle)
    stripes = np.sin(2 * np.pi * along / obj.stripe_period) > 0.3
    colours[stripes] = 0.7 * colours[stripes] + 0.3 * obj.second_colour

    aspect = object_width / object_height
    if obj.class_id == mots_io.CAR:
        body = _rounded_box(u, v, 0.0, 1.0, 0.4, 0.85, radius=0.12, aspect=aspect)
        cabin = _rounded_box(u, v, 0.2, 0.8, 0.05, 0.5, radius=0.1, aspect=aspect)
        wheel_radius = 0.16
        wheels = np.zeros_like(body)
        for centre in (0.22, 0.78):
            du = (u - centre) * object_width / object_height
            wheels |= du**2 + (v - 0.84) ** 2 < wheel_radius**2
        # Two side windows, split by a pillar in the middle of the cabin.
        windows = _rounded_box(u, v, 0.26, 0.74, 0.12, 0.42, 0.05, aspect)
        windows &= np.abs(u - 0.5) > 0.03
        mask = body | cabin | wheels
        colours[windows] = np.array([60.0, 75.0, 95.0])
        colours[wheels] = np.array([20.0, 20.0, 20.0])
    else:
        head = ((u - 0.5) * aspect) ** 2 + (v - 0.09) ** 2 < 0.085**2
        torso = ((u - 0.5) / 0.5) ** 2 + ((v - 0.4) / 0.24) ** 2 < 1.0
        # Walking legs: joined at the hip, apart at the feet by a swing that changes per frame.
        swing = 0.25 + 0.2 * np.sin(obj.walk_phase + 0.6 * frame)
        left_leg = (np.abs(u - (0.5 - swing * (v - 0.55))) < 0.14) & (v > 0.55) & (v < 1.0)
        right_leg = (np.abs(u - (0.5 + swing * (v - 0.55))) < 0.14) & (v > 0.55) & (v < 1.0)
        legs = left_leg | right_leg
        mask = head | torso | legs
        colours[legs & ~torso] = obj.second_colour
        colours[head] = np.array([225.0, 180.0, 150.0]) * (0.8 + 0.2 * obj.body_colour[1] / 255)
    return x0, y0, mask, colours


def _rounded_box(u, v, u0, u1, v0, v1, radius, aspect):
    """Inside of the box [u0, u1] x [v0, v1] (normalised coordinates) with corners rounded by
    ``radius`` (in units of the object height; u is scaled by the aspect ratio to match)."""
    qx = np.abs(u - (u0 + u1) / 2) * aspect - (u1 - u0) / 2 * aspect + radius
    qy = np.abs(v - (v0 + v1) / 2) - (v1 - v0) / 2 + radius
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0) <= radius


def background(rng, height: int, width: int) -> np.ndarray:
    """Static street scene: light sky above the horizon, grey road with faint lane marks,
    low-frequency texture of a few grey levels."""
    horizon = int(0.38 * height)
    image = np.empty((height, width, 3), dtype=np.float32)
    sky = _hsv(rng.uniform(0.5, 0.65), rng.uniform(0.05, 0.2), rng.uniform(0.75, 0.9))
    road = np.full(3, rng.uniform(95.0, 125.0))
    rows = np.arange(height, dtype=np.float32)[:, None]
    image[:horizon] = sky * (1.0 - 0.15 * rows[:horizon, :, None] / max(horizon, 1))
    image[horizon:] = road
    # Low-frequency texture: a coarse random grid, upsampled with bilinear interpolation.
    coarse = rng.normal(0.0, 8.0, size=(height // 16 + 2, width // 16 + 2))
    texture = _bilinear_upsample(coarse, height, width)
    image += texture[:, :, None]
    for lane in (0.62, 0.82):
        y = int(lane * height)
        dashes = (np.arange(width) // 12 + int(rng.integers(0, 2))) % 2 == 0
        image[y : y + 2, dashes] += 35.0
    return np.clip(image, 0, 255)


def _bilinear_upsample(coarse: np.ndarray, height: int, width: int) -> np.ndarray:
    ys = np.linspace(0, coarse.shape[0] - 1, height)
    xs = np.linspace(0, coarse.shape[1] - 1, width)
    y0 = np.floor(ys).astype(int).clip(0, coarse.shape[0] - 2)
    x0 = np.floor(xs).astype(int).clip(0, coarse.shape[1] - 2)
    wy = (ys - y0)[:, None]
    wx = (xs - x0)[None, :]
    top = coarse[y0][:, x0] * (1 - wx) + coarse[y0][:, x0 + 1] * wx
    bottom = coarse[y0 + 1][:, x0] * (1 - wx) + coarse[y0 + 1][:, x0 + 1] * wx
    return top * (1 - wy) + bottom * wy


def crowd_patch(rng, height: int, width: int):
    """A cluttered multicolour patch near the horizon (an ignore region), or None.

    Returns ``(y0, y1, x0, x1, colours)``."""
    if rng.random() < 0.5:
        return None
    patch_h = int(rng.uniform(0.1, 0.16) * height)
    patch_w = int(rng.uniform(0.15, 0.3) * width)
    y0 = int(0.38 * height) - patch_h // 2
    x0 = int(rng.uniform(0.0, 1.0) * (width - patch_w))
    cells = rng.uniform(40.0, 220.0, size=(patch_h // 3 + 1, patch_w // 3 + 1, 3))
    colours = np.repeat(np.repeat(cells, 3, axis=0), 3, axis=1)[:patch_h, :patch_w]
    return y0, y0 + patch_h, x0, x0 + patch_w, colours
