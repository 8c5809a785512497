"""Paired bootstrap over seeds and images, on per-image counts.

A *leaf* is one statistic of one run (mIoU of run R, trimap accuracy at 4 px of run R, ...)
computed from that run's per-image counts under image weights ``w`` (how often each image is
drawn; all ones is the full evaluation). A *quantity* is one leaf per seed. A comparison combines
several quantities into one number (a difference, a ratio, ...).

One resample (``b`` of ``resamples``), drawn from one seeded ``numpy.random.Generator``:

1. ``S`` seed positions, ``rng.integers(0, S, size=S)`` over the sorted seeds every stochastic
   quantity has (skipped with one seed: that draw is always 0, so it is made anyway, for one order);
2. for each drawn position in order, ``rng.integers(0, N, size=N)`` image indices, N the images
   the runs of that seed share (matched by image id where the counts store ids);
3. each quantity: the mean over the drawn seeds of its leaf under that seed's image weights;
   the same draws for every quantity, so treatment and control are paired.

The 95% interval is the 2.5th and 97.5th percentiles of the combined values of the resamples
whose value is defined. Same generator seed, same numbers.
"""
from __future__ import annotations

import abc

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from benchmark.metrics.confusion import iou_from_confusion, miou_from_confusion, pixel_accuracy_from_confusion
from benchmark.metrics.object_recall import recall_by_size

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
# A comparison whose value is undefined in more resamples than this fraction has no interval.
MAX_UNDEFINED = 0.05


class Leaf(abc.ABC):
    """A statistic of one run's per-image counts; ``image_ids`` (N,) or None (then by position).
    Each kind of count (confusion, trimap, instances, superpixel pairs) is a subclass."""

    image_ids: Optional[np.ndarray] = None
    n_images: int = 0

    @abc.abstractmethod
    def value(self, weights: np.ndarray) -> float:
        """The statistic with image ``i`` counted ``weights[i]`` times (a bootstrap resample)."""

    @abc.abstractmethod
    def take(self, index: np.ndarray) -> "Leaf":
        """The same leaf restricted to (and reordered by) these image positions."""


def _ids(ids: Optional[np.ndarray], index: np.ndarray) -> Optional[np.ndarray]:
    return None if ids is None else np.asarray(ids)[index]


class ConfusionLeaf(Leaf):
    """mIoU / IoU / pixel accuracy from per-image confusion matrices ``(N, C, C+1)``.

    ``kind``: ``miou`` (over ``classes``, NaN IoUs skipped), ``iou`` (class ``classes[0]``),
    ``pixel_accuracy``."""

    def __init__(self, image_confusion: np.ndarray, kind: str, classes: Optional[Sequence[int]] = None,
                 image_ids: Optional[np.ndarray] = None):
        self.confusion = np.asarray(image_confusion, dtype=np.int64)
        self.kind, self.classes, self.image_ids = kind, classes, image_ids
        self.n_images = len(self.confusion)

    def value(self, weights: np.ndarray) -> float:
        cm = np.tensordot(weights.astype(np.int64), self.confusion, axes=1)
        if self.kind == "pixel_accuracy":
            return pixel_accuracy_from_confusion(cm)
        if self.kind == "iou":
            return float(iou_from_confusion(cm)[self.classes[0]])
        return miou_from_confusion(cm, self.classes)

    def take(self, index):
        return ConfusionLeaf(self.confusion[index], self.kind, self.classes, _ids(self.image_ids, index))


class RatioLeaf(Leaf):
    """``sum_w numerator[:, j] / sum_w denominator[:, j]`` (trimap correct/total of band j), or with
    ``j=None`` the share of column ``column`` in the row sums (class frequency)."""

    def __init__(self, numerator: np.ndarray, denominator: Optional[np.ndarray], column: int,
                 image_ids: Optional[np.ndarray] = None):
        self.numerator = np.asarray(numerator, dtype=np.int64)
        self.denominator = None if denominator is None else np.asarray(denominator, dtype=np.int64)
        self.column, self.image_ids = column, image_ids
        self.n_images = len(self.numerator)

    def value(self, weights):
        num = weights.astype(np.int64) @ self.numerator
        den = num.sum() if self.denominator is None else (weights.astype(np.int64) @ self.denominator)[self.column]
        return float(num[self.column] / den) if den else float("nan")

    def take(self, index):
        return RatioLeaf(self.numerator[index], None if self.denominator is None else self.denominator[index],
                         self.column, _ids(self.image_ids, index))


class RecallLeaf(Leaf):
    """Object recall of one size bin (class trainId or None for all) from the instance table
    ``(M, 3)`` and each instance's image ``(M,)``; a drawn image's instances count as often as it is drawn."""

    def __init__(self, table: np.ndarray, instance_image: np.ndarray, n_images: int, class_id: Optional[int],
                 size_bin: int, n_bins: int = 4, image_ids: Optional[np.ndarray] = None):
        self.table = np.asarray(table, dtype=np.int64).reshape(-1, 3)
        self.instance_image = np.asarray(instance_image, dtype=np.int64)
        self.n_images, self.class_id, self.size_bin, self.n_bins = n_images, class_id, size_bin, n_bins
        self.image_ids = image_ids

    def value(self, weights):
        table = np.repeat(self.table, weights.astype(np.int64)[self.instance_image], axis=0)
        result = recall_by_size(table, self.n_bins)
        per_bin = result["all"] if self.class_id is None else result["per_class"].get(self.class_id)
        return float("nan") if per_bin is None else float(per_bin[self.size_bin])

    def take(self, index):
        index = np.asarray(index)
        new_position = {int(old): new for new, old in enumerate(index)}
        # An image drawn twice in `index` is not a case take() meets (it selects shared images).
        keep = np.isin(self.instance_image, index)
        image = np.array([new_position[int(i)] for i in self.instance_image[keep]], dtype=np.int64)
        return RecallLeaf(self.table[keep], image, len(index), self.class_id, self.size_bin, self.n_bins,
                          _ids(self.image_ids, index))


class MeanLeaf(Leaf):
    """The mean of per-pair values (the superpixel track's (image, annotator) scores), pairs
    weighted by how often their image is drawn."""

    def __init__(self, values: np.ndarray, pair_image: np.ndarray, image_ids: np.ndarray):
        self.values = np.asarray(values, dtype=np.float64)
        self.pair_image = np.asarray(pair_image, dtype=np.int64)
        self.image_ids = np.asarray(image_ids)
        self.n_images = len(self.image_ids)

    def value(self, weights):
        w = weights.astype(np.float64)[self.pair_image]
        ok = np.isfinite(self.values)
        return float((w[ok] * self.values[ok]).sum() / w[ok].sum()) if w[ok].sum() else float("nan")

    def take(self, index):
        new_position = {int(old): new for new, old in enumerate(index)}
        keep = np.isin(self.pair_image, index)
        image = np.array([new_position[int(i)] for i in self.pair_image[keep]], dtype=np.int64)
        return MeanLeaf(self.values[keep], image, self.image_ids[index])


class GroupLeaf(Leaf):
    """The mean (or mean absolute value) of several leaves of one run (a group of classes)."""

    def __init__(self, leaves: List[Leaf], absolute: bool = False):
        self.leaves, self.absolute = leaves, absolute
        self.image_ids, self.n_images = leaves[0].image_ids, leaves[0].n_images

    def value(self, weights):
        values = np.array([leaf.value(weights) for leaf in self.leaves])
        values = values[np.isfinite(values)]
        values = np.abs(values) if self.absolute else values
        return float(values.mean()) if values.size else float("nan")

    def take(self, index):
        return GroupLeaf([leaf.take(index) for leaf in self.leaves], self.absolute)


@dataclass
class Quantity:
    """One statistic of one selection: a leaf per seed (stochastic), or a constant (deterministic)."""

    leaves: Dict[int, Leaf] = field(default_factory=dict)
    constant: Optional[float] = None

    @property
    def stochastic(self) -> bool:
        return self.constant is None


def _aligned(quantities: Sequence[Quantity], seed: int) -> Tuple[List[Optional[Leaf]], int]:
    """Each stochastic quantity's leaf of ``seed`` restricted to the images all of them share."""
    leaves = [q.leaves[seed] if q.stochastic else None for q in quantities]
    present = [leaf for leaf in leaves if leaf is not None]
    if all(leaf.image_ids is not None for leaf in present):
        common = [str(i) for i in present[0].image_ids]
        for leaf in present[1:]:
            have = set(str(i) for i in leaf.image_ids)
            common = [i for i in common if i in have]
        if not common:
            raise ValueError("the runs share no image")
        out = []
        for leaf in leaves:
            if leaf is None:
                out.append(None)
                continue
            position = {str(i): k for k, i in enumerate(leaf.image_ids)}
            index = np.array([position[i] for i in common], dtype=np.int64)
            out.append(leaf if np.array_equal(index, np.arange(leaf.n_images)) else leaf.take(index))
        return out, len(common)
    sizes = {leaf.n_images for leaf in present}
    if len(sizes) != 1:
        raise ValueError(f"the runs have different numbers of images ({', '.join(map(str, sorted(sizes)))}) "
                         "and no image ids to pair them")
    return leaves, sizes.pop()


def common_seeds(quantities: Sequence[Quantity]) -> List[int]:
    stochastic = [set(q.leaves) for q in quantities if q.stochastic]
    return sorted(set.intersection(*stochastic)) if stochastic else []


def paired_bootstrap(quantities: Sequence[Quantity], combine: Callable[[List[float]], float],
                     resamples: int = DEFAULT_RESAMPLES, rng: Optional[np.random.Generator] = None
                     ) -> Tuple[float, np.ndarray, int, int]:
    """``(full value, resampled values (resamples,), seeds, images)`` of ``combine`` over the
    quantities' values. Raises ValueError when the runs cannot be paired (the message says why)."""
    rng = rng if rng is not None else np.random.default_rng(DEFAULT_SEED)
    seeds = common_seeds(quantities)
    if not seeds:
        raise ValueError("the selections share no seed")
    per_seed = {}
    for seed in seeds:
        per_seed[seed] = _aligned(quantities, seed)

    def values_for(draws: List[Tuple[int, np.ndarray]]) -> List[float]:
        out = []
        for k, q in enumerate(quantities):
            if not q.stochastic:
                out.append(q.constant)
                continue
            out.append(float(np.mean([per_seed[seed][0][k].value(w) for seed, w in draws])))
        return out

    full = combine(values_for([(seed, np.ones(per_seed[seed][1], np.int64)) for seed in seeds]))
    samples = np.empty(resamples)
    for b in range(resamples):
        drawn = rng.integers(0, len(seeds), size=len(seeds))
        draws = []
        for position in drawn:
            seed = seeds[int(position)]
            n = per_seed[seed][1]
            draws.append((seed, np.bincount(rng.integers(0, n, size=n), minlength=n)))
        samples[b] = combine(values_for(draws))
    return full, samples, len(seeds), min(n for _, n in per_seed.values())


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> Tuple[float, float, int]:
    """``(low, high, undefined resamples)``: the percentile interval of the defined resamples."""
    defined = samples[np.isfinite(samples)]
    undefined = int(samples.size - defined.size)
    if not defined.size:
        return float("nan"), float("nan"), undefined
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(defined, [tail, 100 - tail])
    return float(low), float(high), undefined
