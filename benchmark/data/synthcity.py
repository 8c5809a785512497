"""synthcity: a seeded, procedural street-scene dataset in the Cityscapes layout.

Each image is a road scene seen from a car: a ground plane under a pinhole camera with a
vanishing point, building facades and a distant skyline, trees, fences, thin poles carrying
traffic signs and lights, parked and driving cars, pedestrians, and the car's own bonnet at
the bottom (labelId 1 'ego vehicle', trainId 255: the ignore region). Objects are placed in
metres and projected, so distant objects are small and poles are one pixel wide far away.
Class colours overlap (grey road / sidewalk / pole / building / car, green vegetation /
terrain), and textures, lighting, shadows, blur and sensor noise vary per image, so a network
has to learn shape and context rather than look up a colour.

Layout written under ROOT (exactly Cityscapes', so its loader and official tools read it)::

    leftImg8bit/{split}/{city}/{id}_leftImg8bit.png            RGB uint8
    gtFine/{split}/{city}/{id}_gtFine_labelIds.png             labelId uint8
    gtFine/{split}/{city}/{id}_gtFine_labelTrainIds.png        trainId uint8 (official mapping)
    gtFine/{split}/{city}/{id}_gtFine_instanceIds.png          uint16, labelId*1000+k / labelId
    .synthcity.json                                            parameters + stats, written last

``city`` is ``synth{split}`` (e.g. ``synthtrain``) so image ids are unique across splits, and
``id`` is ``{city}_{index:06d}_000019`` (Cityscapes' annotated frame is number 19).

Classes: the 12 Cityscapes evaluation classes in :data:`SYNTHCITY_CLASSES` with their official
labelIds, trainIds and colours; the other 7 trainIds (wall, rider, truck, bus, train,
motorcycle, bicycle) never occur. Determinism: every random draw of image ``index`` in
``split`` comes from ``numpy.random.default_rng([seed, crc32(split), index])``, and PNG writing
is deterministic, so the same arguments give byte-identical files.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageFilter

from benchmark.data.labels import (CLASS_NAMES, IGNORE_INDEX, LABEL_ID, LABEL_ID_TO_TRAIN_ID, TRAIN_ID)
from benchmark.defaults import SYNTHCITY_SEED, SYNTHCITY_SIZE, SYNTHCITY_SPLIT_SIZES
from benchmark.errors import DsbenchError
from benchmark.io import atomic_write, atomic_write_text
from benchmark.ops.sampling import check_size

#: Cityscapes evaluation classes synthcity draws, in trainId order.
SYNTHCITY_CLASSES: Tuple[str, ...] = (
    "road", "sidewalk", "building", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "car",
)
SYNTHCITY_TRAIN_IDS: Tuple[int, ...] = tuple(TRAIN_ID[name] for name in SYNTHCITY_CLASSES)
# The embedded reproduction's dataset (benchmark.defaults, = workflows/config.yaml).
DEFAULT_SPLIT_SIZES: Mapping[str, int] = SYNTHCITY_SPLIT_SIZES
DEFAULT_SIZE: Tuple[int, int] = SYNTHCITY_SIZE
MARKER_NAME = ".synthcity.json"
GENERATOR_VERSION = 1
ANNOTATED_FRAME = 19
MIN_SIDE = 16

_ID = {name: LABEL_ID[name] for name in SYNTHCITY_CLASSES + ("ego vehicle",)}
_ROAD, _SIDEWALK, _BUILDING, _FENCE = _ID["road"], _ID["sidewalk"], _ID["building"], _ID["fence"]
_POLE, _LIGHT, _SIGN, _VEGETATION = _ID["pole"], _ID["traffic light"], _ID["traffic sign"], _ID["vegetation"]
_TERRAIN, _SKY, _PERSON, _CAR, _EGO = _ID["terrain"], _ID["sky"], _ID["person"], _ID["car"], _ID["ego vehicle"]

Color = Union[Tuple[float, float, float], np.ndarray]


def city_name(split: str) -> str:
    """The synthcity 'city' folder of a split (``synthtrain``, ``synthval``, ...)."""
    return f"synth{split}"


def image_id(split: str, index: int) -> str:
    """Cityscapes-style image id ``{city}_{seq:06d}_{frame:06d}``."""
    return f"{city_name(split)}_{index:06d}_{ANNOTATED_FRAME:06d}"


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The one random generator of image ``index`` of ``split`` (stable across runs/platforms)."""
    return np.random.default_rng([int(seed), zlib.crc32(split.encode("utf-8")), int(index)])


# ----------------------------------------------------------------------------- drawing
@dataclass(frozen=True)
class _Camera:
    """Pinhole camera at height ``cam_height`` m looking along +Z over a flat ground (Y up).

    A world point (X lateral, Y height, Z depth) in metres maps to pixel column
    ``vanish_x + focal*X/Z`` and row ``horizon + focal*(cam_height - Y)/Z`` (pixel centres at +0.5).
    """

    height: int
    width: int
    focal: float
    horizon: float
    vanish_x: float
    cam_height: float

    def col(self, x: float, z: float) -> float:
        return self.vanish_x + self.focal * x / z

    def row(self, y: float, z: float) -> float:
        return self.horizon + self.focal * (self.cam_height - y) / z

    def ppm(self, z: float) -> float:
        """Pixels per metre at depth ``z``."""
        return self.focal / z


class _Canvas:
    """RGB (float, 0..255), labelIds (uint8) and instance codes being painted back to front."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.label_ids = np.zeros((height, width), np.uint8)
        # labelId*1000+k where an instance is visible, 0 elsewhere (stuff filled in at the end).
        self.instances = np.zeros((height, width), np.int32)

    def box(self, top: float, bottom: float, left: float, right: float) -> Optional[Tuple[slice, slice]]:
        """Pixels whose centre lies in the box (at least one pixel wide and high), clipped."""
        i0, i1 = math.ceil(top - 0.5), math.ceil(bottom - 0.5)
        j0, j1 = math.ceil(left - 0.5), math.ceil(right - 0.5)
        # Thin or far objects stay visible as one-pixel structures instead of vanishing.
        if i1 <= i0:
            i0 = i1 = int(math.floor((top + bottom) / 2))
            i1 += 1
        if j1 <= j0:
            j0 = j1 = int(math.floor((left + right) / 2))
            j1 += 1
        i0, i1 = max(i0, 0), min(i1, self.height)
        j0, j1 = max(j0, 0), min(j1, self.width)
        if i1 <= i0 or j1 <= j0:
            return None
        return slice(i0, i1), slice(j0, j1)

    def paint(self, region: Tuple[slice, slice], mask: Optional[np.ndarray], label_id: int, color: Color,
              instance: int = 0) -> None:
        rows, cols = region
        color = np.asarray(color, np.float32)
        if mask is None:
            self.rgb[rows, cols] = color
            self.label_ids[rows, cols] = label_id
            self.instances[rows, cols] = instance
            return
        if color.ndim == 3:  # per-pixel colours (h, w, 3) or broadcastable to it
            color = np.broadcast_to(color, mask.shape + (3,))[mask]
        self.rgb[rows, cols][mask] = color
        self.label_ids[rows, cols][mask] = label_id
        self.instances[rows, cols][mask] = instance

    def rect(self, top: float, bottom: float, left: float, right: float, label_id: int, color: Color,
             instance: int = 0) -> None:
        region = self.box(top, bottom, left, right)
        if region is not None:
            self.paint(region, None, label_id, color, instance)

    def ellipse(self, cy: float, cx: float, ry: float, rx: float, label_id: int, color: Color,
                instance: int = 0) -> None:
        region = self.box(cy - ry, cy + ry, cx - rx, cx + rx)
        if region is None:
            return
        ys = np.arange(region[0].start, region[0].stop, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(region[1].start, region[1].stop, dtype=np.float32)[None, :] + 0.5
        mask = ((ys - cy) / max(ry, 0.5)) ** 2 + ((xs - cx) / max(rx, 0.5)) ** 2 <= 1.0
        if not mask.any():  # sub-pixel blob: keep its centre pixel
            mask[min(mask.shape[0] - 1, mask.shape[0] // 2), min(mask.shape[1] - 1, mask.shape[1] // 2)] = True
        self.paint(region, mask, label_id, color, instance)

    def polygon(self, points: List[Tuple[float, float]], label_id: int, color: Color, instance: int = 0) -> None:
        """Convex polygon given as (x, y) pixel points in counter-clockwise screen order or not."""
        xs_p, ys_p = [p[0] for p in points], [p[1] for p in points]
        region = self.box(min(ys_p), max(ys_p), min(xs_p), max(xs_p))
        if region is None:
            return
        ys = np.arange(region[0].start, region[0].stop, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(region[1].start, region[1].stop, dtype=np.float32)[None, :] + 0.5
        inside_pos = np.ones((ys.shape[0], xs.shape[1]), bool)
        inside_neg = np.ones_like(inside_pos)
        for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
            cross = (x1 - x0) * (ys - y0) - (y1 - y0) * (xs - x0)
            inside_pos &= cross >= 0
            inside_neg &= cross <= 0
        mask = inside_pos | inside_neg
        if mask.any():
            self.paint(region, mask, label_id, color, instance)

    def shade(self, top: float, bottom: float, left: float, right: float, factor: float) -> None:
        """Darken the colour only (a cast shadow keeps the label underneath)."""
        region = self.box(top, bottom, left, right)
        if region is not None:
            self.rgb[region] *= factor


def _jitter(rng: np.random.Generator, base: Tuple[float, float, float], spread: float) -> np.ndarray:
    return np.clip(np.asarray(base, np.float32) + rng.uniform(-spread, spread, 3).astype(np.float32), 0, 255)


def _vertical_plane(canvas: _Canvas, cam: _Camera, x: float, z_near: float, z_far: float, top_height: float,
                    label_id: int, texture: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """Paint the plane X = ``x`` between depths ``z_near``..``z_far`` from the ground up to
    ``top_height`` metres (building facades, fences). ``texture(u, v)`` gets the depth ``u``
    (1, w) and height ``v`` (h, w) in metres of each pixel and returns colours (h, w, 3)."""
    xa, xb = cam.col(x, z_near), cam.col(x, z_far)
    j0 = max(0, math.ceil(min(xa, xb) - 0.5))
    j1 = min(cam.width, math.ceil(max(xa, xb) - 0.5))
    if j1 <= j0:
        return
    dx = np.arange(j0, j1, dtype=np.float32) + 0.5 - cam.vanish_x
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = cam.focal * x / dx  # (w,) depth of the plane seen through each column
    valid = np.isfinite(depth) & (depth >= z_near) & (depth <= z_far)
    if not valid.any():
        return
    depth = np.where(valid, depth, z_far).astype(np.float32)
    top = cam.horizon + cam.focal * (cam.cam_height - top_height) / depth
    bottom = cam.horizon + cam.focal * cam.cam_height / depth
    i0 = max(0, int(math.floor(float(top[valid].min()))))
    i1 = min(cam.height, int(math.ceil(float(bottom[valid].max()))))
    if i1 <= i0:
        return
    rows = np.arange(i0, i1, dtype=np.float32)[:, None] + 0.5
    mask = valid[None, :] & (rows >= top[None, :]) & (rows < bottom[None, :])
    if not mask.any():
        return
    heights = cam.cam_height - (rows - cam.horizon) * depth[None, :] / cam.focal  # (h, w) metres
    canvas.paint((slice(i0, i1), slice(j0, j1)), mask, label_id, texture(depth[None, :], heights))


def _facade_texture(rng: np.random.Generator) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    palette = [(150, 150, 150), (175, 155, 125), (140, 85, 65), (200, 195, 185), (105, 105, 115), (120, 125, 100)]
    wall = _jitter(rng, palette[rng.integers(len(palette))], 20)
    window = _jitter(rng, (60, 70, 85), 25)
    frame = wall * rng.uniform(0.7, 0.9)
    bay, floor = rng.uniform(2.5, 4.5), rng.uniform(3.0, 3.8)
    win_w, win_h = rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.6)
    ground_floor = rng.uniform(2.5, 4.5)
    shop = _jitter(rng, (50, 55, 60), 30)

    def texture(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = np.empty(v.shape + (3,), np.float32)
        out[:] = wall
        in_bay = (u % bay) < bay * win_w  # (1, w)
        in_floor = (v % floor) < floor * win_h  # (h, w)
        out[np.broadcast_to((v % floor) > floor * 0.93, v.shape)] = frame
        out[in_bay & in_floor & (v > ground_floor)] = window
        out[(v < ground_floor * 0.8) & (v > 0.3) & ((u % (2 * bay)) < bay)] = shop
        return out

    return texture


def _plain_texture(color: np.ndarray, stripe: Optional[Tuple[float, np.ndarray]] = None
                   ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def texture(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = np.empty(v.shape + (3,), np.float32)
        out[:] = color
        if stripe is not None:  # vertical slats (fences)
            period, slat = stripe
            out[np.broadcast_to((u % period) < period * 0.3, v.shape)] = slat
        return out

    return texture


def _draw_car(canvas: _Canvas, cam: _Camera, rng: np.random.Generator, x: float, z: float, instance: int) -> None:
    palette = [(225, 225, 225), (160, 160, 165), (35, 35, 40), (150, 30, 30), (40, 60, 130), (95, 95, 100),
               (120, 120, 80)]
    body = _jitter(rng, palette[rng.integers(len(palette))], 18)
    width = rng.uniform(1.65, 2.0)
    roof = rng.uniform(1.35, 1.6)
    s = cam.ppm(z)
    cx = cam.col(x, z)
    half = width * s / 2
    row = lambda y: cam.row(y, z)  # noqa: E731
    canvas.shade(row(0.05), row(-0.25), cx - 1.15 * half, cx + 1.15 * half, 0.45)
    canvas.rect(row(0.35), row(0.0), cx - half * 0.95, cx - half * 0.55, _CAR, (22, 22, 24), instance)
    canvas.rect(row(0.35), row(0.0), cx + half * 0.55, cx + half * 0.95, _CAR, (22, 22, 24), instance)
    canvas.rect(row(0.95), row(0.22), cx - half, cx + half, _CAR, body, instance)
    canvas.polygon([(cx - half * 0.92, row(0.95)), (cx + half * 0.92, row(0.95)),
                    (cx + half * 0.7, row(roof)), (cx - half * 0.7, row(roof))], _CAR, body * 0.9, instance)
    canvas.polygon([(cx - half * 0.8, row(1.0)), (cx + half * 0.8, row(1.0)),
                    (cx + half * 0.64, row(roof - 0.07)), (cx - half * 0.64, row(roof - 0.07))],
                   _CAR, _jitter(rng, (45, 55, 65), 15), instance)
    lamp = _jitter(rng, (200, 30, 25), 25)
    canvas.rect(row(0.85), row(0.7), cx - half * 0.95, cx - half * 0.72, _CAR, lamp, instance)
    canvas.rect(row(0.85), row(0.7), cx + half * 0.72, cx + half * 0.95, _CAR, lamp, instance)
    canvas.rect(row(0.55), row(0.42), cx - half * 0.25, cx + half * 0.25, _CAR, (215, 215, 205), instance)


def _draw_person(canvas: _Canvas, cam: _Camera, rng: np.random.Generator, x: float, z: float, instance: int) -> None:
    height = rng.uniform(1.55, 1.92)
    s = cam.ppm(z)
    cx = cam.col(x, z)
    row = lambda frac: cam.row(frac * height, z)  # noqa: E731
    shirt = rng.uniform(20, 235, 3)
    trousers = _jitter(rng, [(40, 45, 70), (30, 30, 30), (110, 100, 90), (60, 60, 60)][rng.integers(4)], 20)
    skin = _jitter(rng, [(225, 190, 160), (170, 120, 90), (110, 75, 55)][rng.integers(3)], 15)
    stride = rng.uniform(0.0, 0.12) * s
    leg = 0.13 * s
    canvas.rect(row(0.47), row(0.0), cx - 0.02 * s - leg - stride, cx - 0.02 * s - stride, _PERSON, trousers, instance)
    canvas.rect(row(0.47), row(0.0), cx + 0.02 * s + stride, cx + 0.02 * s + leg + stride, _PERSON, trousers, instance)
    canvas.rect(row(0.81), row(0.45), cx - 0.19 * s, cx + 0.19 * s, _PERSON, shirt, instance)
    canvas.rect(row(0.8), row(0.47), cx - 0.27 * s, cx - 0.19 * s, _PERSON, shirt * 0.8, instance)
    canvas.rect(row(0.8), row(0.47), cx + 0.19 * s, cx + 0.27 * s, _PERSON, shirt * 0.8, instance)
    canvas.ellipse(row(0.9), cx, 0.09 * height * s, 0.075 * height * s, _PERSON, skin, instance)
    canvas.ellipse(row(0.95), cx, 0.05 * height * s, 0.075 * height * s, _PERSON, (40, 30, 25), instance)


def _draw_sign(canvas: _Canvas, cam: _Camera, rng: np.random.Generator, x: float, z: float, y: float) -> None:
    size = rng.uniform(0.5, 0.8)
    s = cam.ppm(z)
    cx, cy, r = cam.col(x, z), cam.row(y, z), size * s / 2
    shape = rng.integers(4)
    outer = [(200, 30, 35), (30, 70, 170), (230, 200, 40), (235, 235, 235)][rng.integers(4)]
    outer = _jitter(rng, outer, 20)
    inner = _jitter(rng, (235, 235, 235) if outer.mean() < 180 else (40, 40, 40), 20)
    if shape == 0:  # round
        canvas.ellipse(cy, cx, r, r, _SIGN, outer)
        canvas.ellipse(cy, cx, r * 0.7, r * 0.7, _SIGN, inner)
    elif shape == 1:  # warning triangle
        canvas.polygon([(cx - r, cy + r * 0.85), (cx + r, cy + r * 0.85), (cx, cy - r)], _SIGN, outer)
        canvas.polygon([(cx - r * 0.6, cy + r * 0.6), (cx + r * 0.6, cy + r * 0.6), (cx, cy - r * 0.45)], _SIGN, inner)
    elif shape == 2:  # rectangular plate
        canvas.rect(cy - r * 0.7, cy + r * 0.7, cx - r, cx + r, _SIGN, outer)
        canvas.rect(cy - r * 0.45, cy + r * 0.45, cx - r * 0.8, cx + r * 0.8, _SIGN, inner)
    else:  # diamond
        canvas.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], _SIGN, outer)
        canvas.polygon([(cx, cy - r * 0.6), (cx + r * 0.6, cy), (cx, cy + r * 0.6), (cx - r * 0.6, cy)], _SIGN, inner)


def _draw_light(canvas: _Canvas, cam: _Camera, rng: np.random.Generator, x: float, z: float, y: float) -> None:
    s = cam.ppm(z)
    cx, cy = cam.col(x, z), cam.row(y, z)
    half_w, half_h = 0.17 * s, 0.45 * s
    housing = _jitter(rng, [(35, 35, 35), (190, 160, 40), (70, 80, 70)][rng.integers(3)], 15)
    canvas.rect(cy - half_h, cy + half_h, cx - half_w, cx + half_w, _LIGHT, housing)
    lit = rng.integers(3)
    for k, lamp in enumerate([(255, 40, 30), (255, 190, 30), (60, 255, 120)]):
        color = lamp if k == lit else tuple(0.25 * np.asarray(lamp) + 25)
        canvas.ellipse(cy + (k - 1) * 0.6 * half_h, cx, 0.11 * s, 0.11 * s, _LIGHT, color)


def _draw_pole(canvas: _Canvas, cam: _Camera, rng: np.random.Generator, x: float, z: float, toward_road: float
               ) -> None:
    """A pole at (x, z) with an optional sign, light, or arm over the road carrying a light."""
    height = rng.uniform(3.5, 8.0)
    width = rng.uniform(0.1, 0.25)
    color = _jitter(rng, [(125, 125, 130), (70, 85, 70), (150, 145, 140)][rng.integers(3)], 20)
    s = cam.ppm(z)
    cx = cam.col(x, z)
    canvas.rect(cam.row(height, z), cam.row(0.0, z), cx - width * s / 2, cx + width * s / 2, _POLE, color)
    kind = rng.random()
    if kind < 0.3 and height > 5.0:  # mast arm over the road with a hanging light
        reach = rng.uniform(2.0, 4.5)
        end = cam.col(x + toward_road * reach, z)
        canvas.rect(cam.row(height, z), cam.row(height - 0.15, z), min(cx, end), max(cx, end), _POLE, color)
        _draw_light(canvas, cam, rng, x + toward_road * reach, z, height - 0.6)
    elif kind < 0.55:
        _draw_light(canvas, cam, rng, x + toward_road * 0.25, z, min(height, 4.0) - 0.5)
    if rng.random() < 0.6:
        _draw_sign(canvas, cam, rng, x + toward_road * 0.1, z, rng.uniform(2.2, min(3.2, height)))


def _draw_tree(canvas: _Canvas, cam: _Camera, rng: np.random.Generator, x: float, z: float) -> None:
    # Cityscapes labels trunks as vegetation too.
    trunk_h, radius = rng.uniform(1.5, 3.0), rng.uniform(1.2, 3.0)
    s = cam.ppm(z)
    cx = cam.col(x, z)
    canvas.rect(cam.row(trunk_h + radius * 0.5, z), cam.row(0.0, z), cx - 0.15 * s, cx + 0.15 * s, _VEGETATION,
                _jitter(rng, (90, 70, 50), 15))
    leaves = _jitter(rng, [(70, 110, 40), (50, 90, 45), (115, 120, 45)][rng.integers(3)], 20)
    centre = trunk_h + radius
    for _ in range(3):
        dx, dy = rng.uniform(-0.5, 0.5, 2) * radius
        canvas.ellipse(cam.row(centre + dy, z), cam.col(x + dx, z), radius * 0.8 * s, radius * 0.75 * s,
                       _VEGETATION, leaves * rng.uniform(0.85, 1.1))


# Texture strength per labelId: fine grain (std of per-pixel luminance noise) and mottling
# (relative amplitude of low-frequency brightness variation).
_FINE = np.full(256, 5.0, np.float32)
_MOTTLE = np.full(256, 0.06, np.float32)
for _name, _fine, _mottle in [("road", 9, 0.10), ("sidewalk", 8, 0.12), ("building", 6, 0.12),
                              ("vegetation", 24, 0.2), ("terrain", 16, 0.2), ("sky", 1.5, 0.08)]:
    _FINE[_ID[_name]], _MOTTLE[_ID[_name]] = _fine, _mottle


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Zero-mean, unit-range low-frequency noise (H, W) from a coarse grid upsampled bilinearly."""
    coarse = rng.uniform(-1, 1, (max(2, height // cell + 2), max(2, width // cell + 2))).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((width, height), Image.BILINEAR))


def render_scene(rng: np.random.Generator, size: Tuple[int, int] = DEFAULT_SIZE
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one scene at ``size`` = (H, W).

    Returns ``rgb`` uint8 (H, W, 3), ``label_ids`` uint8 (H, W) Cityscapes labelIds, and
    ``instance_ids`` int32 (H, W) in the Cityscapes encoding (labelId*1000+k on person / car
    pixels, k from 0 per class, else the plain labelId).
    """
    height, width = check_size(size, "synthcity image size")
    canvas = _Canvas(height, width)
    cam = _Camera(height, width, focal=width * rng.uniform(0.5, 0.7), horizon=height * rng.uniform(0.36, 0.47),
                  vanish_x=width * rng.uniform(0.4, 0.6), cam_height=rng.uniform(1.3, 1.7))
    road_left, road_right = rng.uniform(3.0, 9.0, 2)
    walk_left, walk_right = rng.uniform(1.5, 4.5, 2)
    setback_left, setback_right = rng.uniform(0.0, 7.0, 2) * (rng.random(2) < 0.7)
    road_color = _jitter(rng, (88, 86, 92), 18)
    walk_color = _jitter(rng, (140, 126, 130), 25)
    terrain_color = _jitter(rng, (115, 135, 70), 25)
    marking_color = _jitter(rng, (225, 225, 215), 20)
    sun_side = rng.choice([-1.0, 1.0])
    shadow_line = sun_side * rng.uniform(-3.0, 9.0)
    overcast = rng.random() < 0.35

    # Sky: vertical gradient, darker blue at the top; overcast skies are grey.
    zenith = _jitter(rng, (175, 180, 185) if overcast else (70, 120, 200), 20)
    haze = _jitter(rng, (205, 208, 212) if overcast else (190, 210, 230), 15)
    t = np.clip(np.arange(height, dtype=np.float32) / max(cam.horizon, 1.0), 0, 1)[:, None, None]
    canvas.rgb[:] = zenith * (1 - t) + haze * t
    canvas.label_ids[:] = _SKY

    # Ground plane: per pixel below the horizon, depth Z and lateral X in metres.
    g0 = max(0, math.floor(cam.horizon + 0.5))
    rows = np.arange(g0, height, dtype=np.float32) + 0.5
    rows = rows[rows > cam.horizon + 0.25]
    if rows.size:
        g0 = int(rows[0] - 0.5)
        depth = cam.focal * cam.cam_height / (rows - cam.horizon)  # (h,)
        lateral = (np.arange(width, dtype=np.float32) + 0.5 - cam.vanish_x)[None, :] * depth[:, None] / cam.focal
        zz = np.broadcast_to(depth[:, None], lateral.shape)
        on_road = (lateral >= -road_left) & (lateral <= road_right)
        on_walk = ((lateral >= -road_left - walk_left) & ~on_road & (lateral < 0)) | \
                  ((lateral <= road_right + walk_right) & ~on_road & (lateral > 0))
        labels = np.where(on_road, _ROAD, np.where(on_walk, _SIDEWALK, _TERRAIN)).astype(np.uint8)
        rgb = np.where(on_road[..., None], road_color, np.where(on_walk[..., None], walk_color, terrain_color))
        lane = on_road & (np.abs(lateral - (road_right - road_left) / 2) < 0.08) & ((zz % 9.0) < 3.0)
        edge = on_road & ((np.abs(lateral + road_left - 0.3) < 0.08) | (np.abs(lateral - road_right + 0.3) < 0.08))
        rgb[lane | edge] = marking_color
        curb = on_walk & ((np.abs(lateral + road_left) < 0.18) | (np.abs(lateral - road_right) < 0.18))
        tiles = on_walk & (((lateral % 0.9) < 0.05) | ((zz % 0.9) < 0.05))
        rgb[curb] = walk_color * 1.15
        rgb[tiles] *= 0.85
        rgb[sun_side * lateral > shadow_line] *= 0.55  # shadow cast by the buildings on the sun's side
        canvas.rgb[g0:] = rgb
        canvas.label_ids[g0:] = labels

    # Distant skyline closing the street.
    z_far = rng.uniform(110.0, 260.0)
    col = 0.0
    while col < width:
        seg = width * rng.uniform(0.02, 0.09)
        kind = rng.random()
        if kind < 0.8:
            is_building = kind < 0.55
            top_h = rng.uniform(6.0, 40.0) if is_building else rng.uniform(4.0, 12.0)
            color = _jitter(rng, (135, 140, 150) if is_building else (80, 105, 60), 25)
            canvas.rect(cam.row(top_h, z_far), cam.row(0.0, z_far), col, col + seg,
                        _BUILDING if is_building else _VEGETATION, color)
        col += seg

    # Building facades along both sides, far blocks first, with gaps that show the sky.
    for side, road, walk, setback in ((-1.0, road_left, walk_left, setback_left),
                                      (1.0, road_right, walk_right, setback_right)):
        x_facade = side * (road + walk + setback)
        blocks = []
        z = rng.uniform(0.5, 6.0)
        while z < z_far:
            length = rng.uniform(8.0, 40.0)
            if rng.random() < 0.2:
                z += rng.uniform(3.0, 15.0)  # a gap between blocks
                continue
            blocks.append((z, min(z + length, z_far), rng.uniform(6.0, 32.0), _facade_texture(rng)))
            z += length
        for z_near, z_end, top_h, texture in reversed(blocks):
            _vertical_plane(canvas, cam, x_facade, z_near, z_end, top_h, _BUILDING, texture)

    # Objects, each with the depth used for back-to-front ordering.
    objects: List[Tuple[float, Callable[[], None]]] = []
    for side, road, walk, setback in ((-1.0, road_left, walk_left, setback_left),
                                      (1.0, road_right, walk_right, setback_right)):
        edge = side * (road + walk)
        if setback > 1.5:  # planted strip: trees, then a fence in front of them
            for _ in range(rng.integers(2, 9)):
                x_tree, z_tree = edge + side * rng.uniform(0.8, setback - 0.5), rng.uniform(4.0, 120.0)
                objects.append((z_tree + 1e3, lambda x=x_tree, z=z_tree: _draw_tree(canvas, cam, rng, x, z)))
            if rng.random() < 0.6:
                fence_color = _jitter(rng, [(130, 120, 110), (150, 160, 160), (90, 95, 90)][rng.integers(3)], 20)
                slat = fence_color * 0.6
                z0 = rng.uniform(1.0, 20.0)
                z1 = z0 + rng.uniform(15.0, 80.0)
                fence_h = rng.uniform(0.9, 1.8)
                x_fence = edge + side * 0.4
                objects.append((999.0, lambda x=x_fence, a=z0, b=z1, h=fence_h, c=fence_color, sl=slat:
                                _vertical_plane(canvas, cam, x, a, b, h, _FENCE,
                                                _plain_texture(c, (rng.uniform(0.15, 0.4), sl)))))
        else:
            for _ in range(rng.integers(0, 4)):
                x_tree, z_tree = edge - side * 0.6, rng.uniform(5.0, 100.0)
                objects.append((z_tree, lambda x=x_tree, z=z_tree: _draw_tree(canvas, cam, rng, x, z)))
        for _ in range(rng.integers(1, 6)):
            x_pole, z_pole = side * (road + rng.uniform(0.3, 0.6)), rng.uniform(4.0, 100.0)
            objects.append((z_pole, lambda x=x_pole, z=z_pole, d=-side: _draw_pole(canvas, cam, rng, x, z, d)))

    instance_counter = {_PERSON: 0, _CAR: 0}

    def next_instance(label_id: int) -> int:
        k = instance_counter[label_id]
        instance_counter[label_id] += 1
        return label_id * 1000 + k

    for _ in range(rng.integers(0, 8)):
        side = rng.choice([-1.0, 1.0])
        road, walk = (road_left, walk_left) if side < 0 else (road_right, walk_right)
        if rng.random() < 0.2:  # crossing the road
            x_person = rng.uniform(-road_left, road_right)
        else:
            x_person = side * (road + rng.uniform(0.4, max(0.5, walk - 0.3)))
        z_person = rng.uniform(4.0, 70.0)
        objects.append((z_person, lambda x=x_person, z=z_person, k=next_instance(_PERSON):
                        _draw_person(canvas, cam, rng, x, z, k)))
    for _ in range(rng.integers(2, 10)):
        if rng.random() < 0.45:  # parked along a kerb
            x_car = rng.choice([-road_left + 1.1, road_right - 1.1])
            z_car = rng.uniform(4.0, 90.0)
        else:
            lanes = np.arange(-road_left + 1.75, road_right - 1.0, 3.5)
            x_car = float(lanes[rng.integers(len(lanes))]) if lanes.size else 0.0
            z_car = rng.uniform(6.0, 120.0)
        objects.append((z_car, lambda x=x_car, z=z_car, k=next_instance(_CAR): _draw_car(canvas, cam, rng, x, z, k)))

    # Stable sort: equal depths keep creation order, so drawing is deterministic.
    for _, draw in sorted(objects, key=lambda item: -item[0]):
        draw()

    # Ego vehicle bonnet: a curved dark region at the bottom (the ignore region).
    bonnet = height * rng.uniform(0.06, 0.13)
    centre = width * rng.uniform(0.4, 0.6)
    xs = (np.arange(width, dtype=np.float32) + 0.5 - centre) / (width / 2)
    edge_row = height - bonnet * (1.0 - 0.55 * xs ** 2)  # (W,)
    b0 = max(0, int(math.floor(float(edge_row.min()))))
    brow = np.arange(b0, height, dtype=np.float32)[:, None] + 0.5
    mask = brow >= edge_row[None, :]
    paint = _jitter(rng, (40, 40, 48), 20)
    shine = (1.0 + 0.6 * np.clip(1.0 - (brow - edge_row[None, :]) / max(bonnet * 0.3, 1.0), 0, 1))[..., None]
    canvas.paint((slice(b0, height), slice(0, width)), mask, _EGO, paint * shine)

    # Appearance: class textures, lighting, optics blur, sensor noise.
    rgb = canvas.rgb
    grain = rng.standard_normal((height, width), dtype=np.float32)
    mottle = _smooth_noise(rng, height, width, max(2, width // 64))
    rgb *= (1.0 + _MOTTLE[canvas.label_ids] * mottle)[..., None]
    rgb += (_FINE[canvas.label_ids] * grain)[..., None]
    gain = rng.uniform(0.6, 1.3) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    slope = rng.uniform(-0.25, 0.25)
    light = 1.0 + slope * (np.arange(width, dtype=np.float32) / width - 0.5)
    light = light[None, :] * (1.0 + 0.15 * _smooth_noise(rng, height, width, max(2, width // 6)))
    rgb *= light[..., None] * gain
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    image = image.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.3, 0.9) * width / 1024))
    noisy = np.asarray(image, np.float32) + rng.normal(0.0, rng.uniform(1.5, 5.0), (height, width, 3)).astype(np.float32)
    rgb_u8 = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

    label_ids = canvas.label_ids
    # Painting a non-instance class resets the instance code to 0, so occluded parts fall back to stuff.
    instance_ids = np.where(canvas.instances > 0, canvas.instances, label_ids.astype(np.int32)).astype(np.int32)
    return rgb_u8, label_ids, instance_ids


# ----------------------------------------------------------------------------- writing
def _atomic_png(path: Path, array: np.ndarray) -> None:
    # compress_level 1: 3-4x faster than the default with files ~15% larger.
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG", compress_level=1))


def _check_params(split_sizes: Mapping[str, int], size: Tuple[int, int], seed: int,
                  name: str = "synthcity") -> Tuple[Dict[str, int], Tuple[int, int]]:
    sizes: Dict[str, int] = {}
    for split, count in dict(split_sizes).items():
        if not isinstance(split, str) or not re.fullmatch(r"[a-z][a-z0-9]*", split):
            raise DsbenchError(f"{name} split name {split!r} must be lowercase letters/digits, e.g. train or val")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 0 <= int(count) < 1_000_000:
            raise DsbenchError(f"{name} split {split!r} size {count!r} must be an integer in 0..999999")
        sizes[split] = int(count)
    if not sizes:
        raise DsbenchError(f"{name} split_sizes is empty; give e.g. {{'train': 64, 'val': 16}}")
    height, width = check_size(size, f"{name} image size")
    if min(height, width) < MIN_SIDE:
        raise DsbenchError(f"{name} image size {height}x{width} is too small; use at least {MIN_SIDE}x{MIN_SIDE}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DsbenchError(f"{name} seed {seed!r} must be a non-negative integer")
    return sizes, (height, width)


def reuse_or_clear_marker(marker: Path, params: Mapping[str, Any], overwrite: bool) -> Optional[Dict[str, Any]]:
    """A generated dataset's marker (written last, so it means a complete dataset): its stats, marked
    ``cached``, when it records ``params`` and ``overwrite`` is off; else ``None``, the root created
    and the marker removed, so an interrupted rewrite is never taken for a complete one."""
    if marker.exists() and not overwrite:
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous.get("params") == params:
            return dict(previous.get("stats", {}), cached=True)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        if marker.exists():
            marker.unlink()
    except OSError as error:
        raise DsbenchError(f"cannot write {params['generator']} into {marker.parent} ({error}); "
                           "pick a writable --root") from error
    return None


def make_synthcity(root: Union[str, os.PathLike], split_sizes: Mapping[str, int] = DEFAULT_SPLIT_SIZES,
                   size: Tuple[int, int] = DEFAULT_SIZE, seed: int = SYNTHCITY_SEED, *,
                   overwrite: bool = False) -> dict:
    """Generate synthcity under ``root`` in the Cityscapes layout and return its stats.

    Idempotent: when ``root/.synthcity.json`` already records the same parameters and generator
    version, nothing is rewritten (``stats["cached"]`` is True) unless ``overwrite``. The marker
    is removed before writing and written last, so its presence means a complete dataset.
    Stale files of a previous run in the synthcity city folders are removed.

    Stats: ``seconds``, ``images`` per split, ``pixel_counts`` per trainId class name (plus
    ``"ignore"``), ``class_frequency`` (fraction of non-ignored pixels per class),
    ``ignore_fraction``, ``imbalance_ratio`` (most / least frequent present class), ``classes``.
    """
    sizes, (height, width) = _check_params(split_sizes, size, seed)
    root = Path(root)
    params = {"generator": "synthcity", "version": GENERATOR_VERSION, "split_sizes": sizes,
              "size": [height, width], "seed": int(seed)}
    marker = root / MARKER_NAME
    cached = reuse_or_clear_marker(marker, params, overwrite)
    if cached is not None:
        return cached

    start = time.perf_counter()
    counts = np.zeros(256, np.int64)
    for split, count in sizes.items():
        image_dir = root / "leftImg8bit" / split / city_name(split)
        label_dir = root / "gtFine" / split / city_name(split)
        written = set()
        for index in range(count):
            rgb, label_ids, instance_ids = render_scene(image_rng(seed, split, index), (height, width))
            train_ids = LABEL_ID_TO_TRAIN_ID[label_ids]
            counts += np.bincount(train_ids.ravel(), minlength=256)
            name = image_id(split, index)
            outputs = {image_dir / f"{name}_leftImg8bit.png": rgb,
                       label_dir / f"{name}_gtFine_labelIds.png": label_ids,
                       label_dir / f"{name}_gtFine_labelTrainIds.png": train_ids,
                       label_dir / f"{name}_gtFine_instanceIds.png": instance_ids.astype(np.uint16)}
            for path, array in outputs.items():
                _atomic_png(path, array)
                written.add(path)
        for folder in (image_dir, label_dir):  # files of an earlier, larger run
            if folder.is_dir():
                for stale in folder.glob("*.png"):
                    if stale not in written:
                        stale.unlink()
    seconds = time.perf_counter() - start

    names = {train_id: CLASS_NAMES[train_id] for train_id in range(len(CLASS_NAMES))}
    labelled = int(counts[: len(CLASS_NAMES)].sum())
    total = int(counts.sum())
    pixel_counts = {names[t]: int(counts[t]) for t in SYNTHCITY_TRAIN_IDS}
    pixel_counts["ignore"] = int(counts[IGNORE_INDEX])
    frequency = {names[t]: (int(counts[t]) / labelled if labelled else 0.0) for t in SYNTHCITY_TRAIN_IDS}
    present = [v for v in frequency.values() if v > 0]
    stats = {
        "root": str(root), "seconds": round(seconds, 3), "images": sizes, "size": [height, width], "seed": int(seed),
        "classes": list(SYNTHCITY_CLASSES), "pixel_counts": pixel_counts, "class_frequency": frequency,
        "ignore_fraction": (int(counts[IGNORE_INDEX]) / total if total else 0.0),
        "imbalance_ratio": (max(present) / min(present) if present else 0.0), "cached": False,
    }
    atomic_write_text(marker, json.dumps({"params": params, "stats": stats}, indent=2, sort_keys=True) + "\n")
    return stats
