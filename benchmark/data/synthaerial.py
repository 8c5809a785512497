"""synthaerial: a seeded, procedural aerial land-cover dataset in synthcity's (Cityscapes) layout.

Each tile is seen from above and split into large irregular regions (a weighted Voronoi partition
of domain-warped coordinates), each of one DeepGlobe Land Cover class. The classes differ by
*texture* far more than by colour: agriculture is oriented stripes (furrows), forest dark and
bright blobs (crowns and gaps), barren fine grit, urban a rotated high-frequency grid of streets
and roofs, rangeland moderate mottling, water nearly flat; their mean colours are close (one base
colour per tile, small per-class tints), so colour edges at region boundaries are weak: the
setting where Jin 2022 (DeepGlobe) finds boundaries less informative than on street scenes. A
few small cloud patches are labelled unknown (ignored).

Layout written under ROOT (synthcity's: leftImg8bit/ and gtFine/, the same file names)::

    leftImg8bit/{split}/{city}/{id}_leftImg8bit.png            RGB uint8
    gtFine/{split}/{city}/{id}_gtFine_labelIds.png             uint8: 0 unknown, 1..6 the classes
    gtFine/{split}/{city}/{id}_gtFine_labelTrainIds.png        uint8: training ids 0..5, 255 unknown
    .synthaerial.json                                          parameters + stats, written last

``city`` is ``aerial{split}`` and ``id`` is ``{city}_{index:06d}_000019``. There are no instance
maps (land cover has no objects): the loader gives all-zero instances and the spec says
``has_instances=False``, so evaluation reports no object-recall rows.

Determinism: every random draw of tile ``index`` of ``split`` comes from
``numpy.random.default_rng([seed, crc32(split), index])``, and only uniform draws, integer draws
and elementwise IEEE arithmetic (+, -, *, /, floor, sqrt, rint; no sin/exp/log, no reductions, no
resampling library) make the pixels, so the same arguments give byte-identical files on any machine.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from benchmark.data.cityscapes import IMAGE_SUFFIX, LABEL_IDS_SUFFIX, TRAIN_IDS_SUFFIX, Transform, read_png
from benchmark.data.labels import IGNORE_INDEX
from benchmark.data.synthcity import (ANNOTATED_FRAME, _atomic_png, _check_params, image_rng,  # the same draws per tile
                                      reuse_or_clear_marker)
from benchmark.defaults import SYNTHCITY_SEED, SYNTHCITY_SIZE, SYNTHCITY_SPLIT_SIZES
from benchmark.errors import DsbenchError
from benchmark.io import atomic_write_text

#: DeepGlobe Land Cover's six classes, in training-id order (its card's order).
SYNTHAERIAL_CLASSES: Tuple[str, ...] = ("urban", "agriculture", "rangeland", "forest", "water", "barren")
#: DeepGlobe's mask colours, used as the display palette.
SYNTHAERIAL_COLORS: Tuple[Tuple[int, int, int], ...] = (
    (0, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 0), (0, 0, 255), (255, 255, 255))
#: labelIds PNG value of each class (training id + 1); 0 is unknown.
SYNTHAERIAL_LABEL_IDS: Tuple[int, ...] = tuple(range(1, len(SYNTHAERIAL_CLASSES) + 1))
UNKNOWN_LABEL_ID = 0
# Same defaults as synthcity (workflows/config.yaml datasets.synthaerial).
DEFAULT_SPLIT_SIZES: Mapping[str, int] = SYNTHCITY_SPLIT_SIZES
DEFAULT_SIZE: Tuple[int, int] = SYNTHCITY_SIZE
DEFAULT_SEED = SYNTHCITY_SEED
MARKER_NAME = ".synthaerial.json"
GENERATOR_VERSION = 1
SETUP_HINT = "run `dsbench make-data --dataset synthaerial --root {root}`"

URBAN, AGRICULTURE, RANGELAND, FOREST, WATER, BARREN = range(len(SYNTHAERIAL_CLASSES))
# labelId -> trainId (unknown and every unused value -> 255).
LABEL_ID_TO_TRAIN_ID = np.full(256, IGNORE_INDEX, np.uint8)
LABEL_ID_TO_TRAIN_ID[list(SYNTHAERIAL_LABEL_IDS)] = np.arange(len(SYNTHAERIAL_CLASSES), dtype=np.uint8)
LABEL_ID_TO_TRAIN_ID.setflags(write=False)
VALID_TRAIN_IDS = np.zeros(256, bool)
VALID_TRAIN_IDS[list(range(len(SYNTHAERIAL_CLASSES))) + [IGNORE_INDEX]] = True
VALID_TRAIN_IDS.setflags(write=False)

# Small per-class tints (RGB offsets from the tile's base colour): far below the texture amplitudes.
_TINT = np.array([(2, 2, 6), (6, 6, -6), (2, 4, -3), (-6, -1, -6), (-6, -3, 7), (7, 3, 0)], np.float32)


def city_name(split: str) -> str:
    """The synthaerial 'city' folder of a split (``aerialtrain``, ``aerialval``, ...)."""
    return f"aerial{split}"


def image_id(split: str, index: int) -> str:
    return f"{city_name(split)}_{index:06d}_{ANNOTATED_FRAME:06d}"


# ----------------------------------------------------------------------------- drawing
def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Zero-mean noise in [-1, 1] (H, W): a coarse uniform grid with cells of ``cell`` pixels,
    interpolated separably with smoothstep weights (elementwise arithmetic only: bit-exact everywhere)."""
    cell = max(float(cell), 1.0)
    grid = _uniform(rng, (int(height / cell) + 2, int(width / cell) + 2))

    def axis(n: int) -> Tuple[np.ndarray, np.ndarray]:
        t = (np.arange(n, dtype=np.float32) + np.float32(0.5)) / np.float32(cell)
        i = np.floor(t).astype(np.int64)
        t = t - i
        return i, t * t * (3 - 2 * t)

    (y0, ty), (x0, tx) = axis(height), axis(width)
    rows = grid[:, x0] + (grid[:, x0 + 1] - grid[:, x0]) * tx[None, :]  # (gh, W)
    top = rows[y0]
    return top + (rows[y0 + 1] - top) * ty[:, None]


def _uniform(rng: np.random.Generator, shape: Tuple[int, ...]) -> np.ndarray:
    """float32 noise uniform in [-1, 1) (drawn as float32: exact bit operations, no rounding of doubles)."""
    return rng.random(shape, dtype=np.float32) * np.float32(2) - np.float32(1)


def _direction(rng: np.random.Generator) -> Tuple[float, float]:
    """A uniformly random unit vector (normalised by sqrt: no trigonometry)."""
    while True:
        u, v = rng.uniform(-1.0, 1.0, 2)
        norm = u * u + v * v
        if 0.01 < norm <= 1.0:
            root = float(np.sqrt(norm))
            return float(u / root), float(v / root)


def _frac(values: np.ndarray) -> np.ndarray:
    return values - np.floor(values)


def _clip1(values: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(values, np.float32(-1)), np.float32(1))


def render_tile(rng: np.random.Generator, size: Tuple[int, int] = DEFAULT_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """One tile: RGB uint8 (H, W, 3) and labelIds uint8 (H, W) (0 unknown, 1..6 the classes).

    Every region draws its own texture parameters (direction, period, phase, amplitude); the
    textures are evaluated for the whole tile from per-pixel parameter maps and each pixel keeps
    its region's class's one. All texture offsets have zero mean by construction, so a region's
    mean colour is the tile's base colour plus small tints.
    """
    height, width = int(size[0]), int(size[1])
    side = float(min(height, width))
    ys = np.arange(height, dtype=np.float32)[:, None] + np.float32(0.5)  # (H, 1)
    xs = np.arange(width, dtype=np.float32)[None, :] + np.float32(0.5)  # (1, W)

    # Partition: weighted Voronoi cells of domain-warped coordinates (irregular, wandering borders).
    n_regions = int(rng.integers(7, 12))
    wy, wx = np.broadcast_to(ys, (height, width)), np.broadcast_to(xs, (height, width))
    for amplitude, cell in ((0.16, side / 2.5), (0.05, side / 9), (0.015, side / 40)):
        wy = wy + np.float32(amplitude * side) * _smooth_noise(rng, height, width, cell)
        wx = wx + np.float32(amplitude * side) * _smooth_noise(rng, height, width, cell)
    seed_y = rng.uniform(0, height, n_regions).astype(np.float32)
    seed_x = rng.uniform(0, width, n_regions).astype(np.float32)
    weight = ((rng.uniform(0.0, 0.25, n_regions) * side) ** 2).astype(np.float32)
    region = np.zeros((height, width), np.int64)
    best = None
    for k in range(n_regions):
        dy, dx = wy - seed_y[k], wx - seed_x[k]
        distance = dy * dy + dx * dx - weight[k]
        if best is None:
            best = distance
        else:
            closer = distance < best
            region[closer] = k
            best = np.where(closer, distance, best)
    # Every class once before any repeats, in a random order; then random ones.
    n_classes = len(SYNTHAERIAL_CLASSES)
    classes = np.concatenate([rng.permutation(n_classes),
                              rng.integers(0, n_classes, max(0, n_regions - n_classes))])[:n_regions]
    classes = classes[rng.permutation(n_regions)]
    cls = classes[region]

    # Per-region texture parameters, as per-pixel maps.
    direction = np.array([_direction(rng) for _ in range(n_regions)], np.float32)  # (K, 2): cos, sin
    period = rng.uniform(0.0, 1.0, n_regions).astype(np.float32)
    phase = rng.uniform(0.0, 1.0, (2, n_regions)).astype(np.float32)
    strength = rng.uniform(0.0, 1.0, n_regions).astype(np.float32)
    tint = _TINT[classes] + rng.uniform(-3, 3, (n_regions, 3)).astype(np.float32)
    c, s = direction[region, 0], direction[region, 1]
    along = xs * c + ys * s
    across = ys * c - xs * s
    fine = _uniform(rng, (height, width))
    medium = _smooth_noise(rng, height, width, 5.0)
    blobs = _smooth_noise(rng, height, width, 3.2)
    p, t = period[region], strength[region]

    # Agriculture: furrows, a triangle wave across the region's direction (period 4.5-8 px).
    wave = _frac(along / (np.float32(4.5) + np.float32(3.5) * p) + phase[0][region])
    agriculture = (np.float32(26) + 8 * t) * (np.abs(2 * wave - 1) * 2 - 1) + 3 * fine
    # Urban: a rotated grid of dark streets (7/16 of the pixels) around roofs of random brightness.
    cell = np.float32(6.0) + np.float32(3.5) * p
    u = along / cell + phase[0][region]
    v = across / cell + phase[1][region]
    roofs = rng.uniform(-1.0, 1.0, (16, 16)).astype(np.float32)
    roof = roofs[np.floor(u).astype(np.int64) & 15, np.floor(v).astype(np.int64) & 15]
    street = (_frac(u) < 0.25) | (_frac(v) < 0.25)
    urban = np.where(street, np.float32(-24.0), np.float32(24.0 * 7 / 9) + 22 * roof) + 3 * fine
    # Forest: crowns and gaps, blob noise pushed towards +-1.
    forest = (np.float32(28) + 8 * t) * _clip1(blobs * np.float32(2.5)) + 4 * fine
    # Barren: fine grit (independent per-pixel noise) over slight mottling.
    barren = (np.float32(20) + 6 * t) * _uniform(rng, (height, width)) + 4 * medium
    # Rangeland: moderate mottling and some grain; water: nearly flat.
    rangeland = (np.float32(11) + 4 * t) * medium + 5 * fine
    water = (np.float32(2) + 2 * t) * medium
    offset = np.choose(cls, [urban, agriculture, rangeland, forest, water, barren])

    # One base colour per tile plus the region's tint and the texture's luminance offset.
    base = np.array([112, 106, 86], np.float32) + rng.uniform(-14, 14, 3).astype(np.float32)
    rgb = (base + tint)[region] + offset[..., None]

    # Unknown: a few small clouds (labelled unknown, not scored).
    label_ids = (cls + 1).astype(np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(0.02, 0.06, 2) * side
        i0, i1 = max(0, int(cy - ry) - 1), min(height, int(cy + ry) + 2)
        j0, j1 = max(0, int(cx - rx) - 1), min(width, int(cx + rx) + 2)
        if i1 <= i0 or j1 <= j0:
            continue
        rr = ((ys[i0:i1] - np.float32(cy)) / np.float32(ry)) ** 2 + ((xs[:, j0:j1] - np.float32(cx)) / np.float32(rx)) ** 2
        cloud = rr <= 1.0
        label_ids[i0:i1, j0:j1][cloud] = UNKNOWN_LABEL_ID
        patch = rgb[i0:i1, j0:j1]
        patch[cloud] = patch[cloud] * np.float32(0.35) + np.float32(150.0)

    # Sensor: slow illumination change, uniform noise (no log/exp of a normal draw).
    light = 1 + np.float32(0.06) * _smooth_noise(rng, height, width, side / 1.5)
    rgb = rgb * light[..., None] + np.float32(2.5) * _uniform(rng, (height, width, 3))
    np.rint(rgb, out=rgb)
    np.clip(rgb, 0, 255, out=rgb)
    return rgb.astype(np.uint8), label_ids


# ----------------------------------------------------------------------------- writing
def make_synthaerial(root: Union[str, os.PathLike], split_sizes: Mapping[str, int] = DEFAULT_SPLIT_SIZES,
                     size: Tuple[int, int] = DEFAULT_SIZE, seed: int = DEFAULT_SEED, *,
                     overwrite: bool = False) -> dict:
    """Generate synthaerial under ``root`` and return its stats (like :func:`make_synthcity`:
    idempotent, marker written last, stale files of a larger earlier run removed).

    Stats: ``seconds``, ``images`` per split, ``pixel_counts`` per class name (plus ``"ignore"``)
    and per split (``split_pixel_counts``), ``class_frequency``, ``ignore_fraction``,
    ``imbalance_ratio``, ``classes``.
    """
    sizes, (height, width) = _check_params(split_sizes, size, seed, name="synthaerial")
    root = Path(root)
    params = {"generator": "synthaerial", "version": GENERATOR_VERSION, "split_sizes": sizes,
              "size": [height, width], "seed": int(seed)}
    marker = root / MARKER_NAME
    cached = reuse_or_clear_marker(marker, params, overwrite)
    if cached is not None:
        return cached

    start = time.perf_counter()
    n = len(SYNTHAERIAL_CLASSES)
    split_counts: Dict[str, np.ndarray] = {}
    for split, count in sizes.items():
        image_dir = root / "leftImg8bit" / split / city_name(split)
        label_dir = root / "gtFine" / split / city_name(split)
        counts = np.zeros(256, np.int64)
        written = set()
        for index in range(count):
            rgb, label_ids = render_tile(image_rng(seed, split, index), (height, width))
            train_ids = LABEL_ID_TO_TRAIN_ID[label_ids]
            counts += np.bincount(train_ids.ravel(), minlength=256)
            name = image_id(split, index)
            outputs = {image_dir / f"{name}{IMAGE_SUFFIX}": rgb,
                       label_dir / f"{name}{LABEL_IDS_SUFFIX}": label_ids,
                       label_dir / f"{name}{TRAIN_IDS_SUFFIX}": train_ids}
            for path, array in outputs.items():
                _atomic_png(path, array)
                written.add(path)
        for folder in (image_dir, label_dir):
            if folder.is_dir():
                for stale in folder.glob("*.png"):
                    if stale not in written:
                        stale.unlink()
        split_counts[split] = counts
    seconds = time.perf_counter() - start

    total_counts = sum(split_counts.values(), np.zeros(256, np.int64))
    labelled = int(total_counts[:n].sum())
    total = int(total_counts.sum())
    frequency = {name: (int(total_counts[t]) / labelled if labelled else 0.0)
                 for t, name in enumerate(SYNTHAERIAL_CLASSES)}
    present = [v for v in frequency.values() if v > 0]

    def named(counts: np.ndarray) -> Dict[str, int]:
        out = {name: int(counts[t]) for t, name in enumerate(SYNTHAERIAL_CLASSES)}
        out["ignore"] = int(counts[IGNORE_INDEX])
        return out

    stats = {
        "root": str(root), "seconds": round(seconds, 3), "images": sizes, "size": [height, width], "seed": int(seed),
        "classes": list(SYNTHAERIAL_CLASSES), "pixel_counts": named(total_counts),
        "split_pixel_counts": {split: named(counts) for split, counts in split_counts.items()},
        "class_frequency": frequency, "ignore_fraction": (int(total_counts[IGNORE_INDEX]) / total if total else 0.0),
        "imbalance_ratio": (max(present) / min(present) if present else 0.0), "cached": False,
    }
    atomic_write_text(marker, json.dumps({"params": params, "stats": stats}, indent=2, sort_keys=True) + "\n")
    return stats


# ----------------------------------------------------------------------------- reading
class SynthaerialSegmentation(Dataset):
    """One split of synthaerial: samples like :class:`CityscapesSegmentation`'s, training ids 0..5
    (255 = unknown), all-zero ``instances`` (no objects)."""

    def __init__(self, root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None):
        self.root = Path(root)
        self.split = split
        self.transform = transform
        hint = SETUP_HINT.format(root=self.root)
        if not self.root.is_dir():
            raise DsbenchError(f"dataset root {self.root} does not exist; {hint}")
        image_dir = self.root / "leftImg8bit" / split
        images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"))
        if not images:
            raise DsbenchError(f"{image_dir}: split {split!r} of synthaerial has no images "
                               f"<city>/<id>{IMAGE_SUFFIX}; {hint}")
        self._records: List[Tuple[str, Path, Path]] = []
        for image_path in images:
            stem = image_path.name[: -len(IMAGE_SUFFIX)]
            label_path = self.root / "gtFine" / split / image_path.parent.name / f"{stem}{TRAIN_IDS_SUFFIX}"
            if not label_path.is_file():
                raise DsbenchError(f"{label_path}: missing label file for {image_path}; {hint}")
            self._records.append((stem, image_path, label_path))

    def __len__(self) -> int:
        return len(self._records)

    @property
    def ids(self) -> List[str]:
        return [record[0] for record in self._records]

    def load_labels(self, index: int) -> np.ndarray:
        """Training ids (H, W) uint8 of sample ``index``, validated (0..5 or 255)."""
        path = self._records[index][2]
        labels = read_png(path, "label")
        bad = np.flatnonzero((np.bincount(labels.ravel(), minlength=256) > 0) & ~VALID_TRAIN_IDS)
        if bad.size:
            raise DsbenchError(f"{path}: trainId values {', '.join(map(str, bad[:6]))} are not synthaerial "
                               f"classes (0..{len(SYNTHAERIAL_CLASSES) - 1} or 255); regenerate the dataset "
                               f"({SETUP_HINT.format(root=self.root)} with overwrite)")
        return labels

    def __getitem__(self, index: int) -> Dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        image_id_, image_path, label_path = self._records[index]
        image = read_png(image_path, "image")
        labels = self.load_labels(index)
        if labels.shape != image.shape[:2]:
            raise DsbenchError(f"{label_path}: labels are {labels.shape[0]}x{labels.shape[1]} but image "
                               f"{image_path} is {image.shape[0]}x{image.shape[1]}; regenerate the dataset")
        sample = {
            "image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0),
            "labels": torch.from_numpy(labels.astype(np.int64)),
            "instances": torch.zeros(labels.shape, dtype=torch.int64),
            "id": image_id_,
            "path": str(image_path),
        }
        return self.transform(sample) if self.transform is not None else sample

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


def build_synthaerial(root: Union[str, os.PathLike], split: str, *, transform: Optional[Transform] = None
                      ) -> SynthaerialSegmentation:
    return SynthaerialSegmentation(root, split, transform=transform)


__all__ = ["DEFAULT_SIZE", "DEFAULT_SPLIT_SIZES", "MARKER_NAME", "SYNTHAERIAL_CLASSES", "SYNTHAERIAL_COLORS",
           "SYNTHAERIAL_LABEL_IDS", "SynthaerialSegmentation", "build_synthaerial", "image_id", "image_rng",
           "make_synthaerial", "render_tile"]
