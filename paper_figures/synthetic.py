"""Synthetic tidy rows with the shape of a real sweep, for tests and for previewing figures.

The numbers follow the papers' qualitative story (mIoU rises with resolution, adaptive methods
beat uniform near boundaries) but are made up: never plot them as results.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

import pandas as pd

from benchmark.results import IDENTITY, METRICS, SORT_KEY, make_row, to_frame

PROVENANCE: Dict[str, object] = {
    "git_sha": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False, "device": "cpu (x86_64)",
    "torch": "2.4.0", "timm": "1.0.0", "created": "2024-01-01T00:00:00Z", "config_hash": "abcdef012345",
}
HR_SIZE: Tuple[int, int] = (256, 512)
TRAIN: Dict[str, object] = {"batch_size": 4, "checkpoint_every": 20, "iters": 40, "lr": 0.001}
# Every option of the registered methods the synthetic rows use, defaults included, as the
# workflow writes them into ``params`` (a copy: figures must never import a method).
DEFAULT_OPTIONS: Dict[str, Dict[str, object]] = {
    "uniform": {"image_mode": "bilinear"},
    "edge_based": {"image_mode": "bilinear", "lam": 1.0},
    "deformation": {"image_mode": "bilinear", "sigma_frac": 0.125, "input_scale": 2.0, "module_kernel": 3,
                    "gamma": 100.0},
    "deformation_single": {"image_mode": "bilinear", "sigma_frac": 0.125, "input_scale": 2.0, "module_kernel": 3,
                           "gamma": 0.0},
    "edge_sim": {"image_mode": "bilinear", "radius": 2.0, "sigma_frac": 0.125},
    "interpolation": {"image_mode": "bilinear", "blocks": 1, "filters": 16},
    "soft_labels": {"image_mode": "bilinear", "label_mode": "soft-bilinear", "mc": True},
    "hierarchical_clustering": {"image_mode": "bilinear", "levels": 2, "branch": "block", "tau": 0.07, "hard": False,
                                "dcn": False},
}
TRACKS: Dict[str, str] = {"hierarchical_clustering": "network_downsampling", "superpixels": "superpixels"}
DEFAULT_TRACK = "input_downsampling"
# A variant label -> (registered method, options it overrides, train settings it overrides).
Variant = Tuple[str, Mapping[str, object], Mapping[str, object]]


def params_text(method: str, options: Optional[Mapping[str, object]] = None,
                train: Optional[Mapping[str, object]] = None) -> str:
    """The canonical ``params`` JSON of a run of registered ``method`` (sorted keys, defaults included)."""
    return json.dumps({"method": method, "options": {**DEFAULT_OPTIONS.get(method, {}), **dict(options or {})},
                       "train": {**TRAIN, **dict(train or {})}}, sort_keys=True)


def run_identity(label: str, variant: Optional[Variant] = None, **identity: Any) -> Dict[str, Any]:
    """The identity of a run of the variant ``label``: ``identity`` plus ``track`` and ``params``.

    ``variant`` is (registered method, option overrides, train overrides); by default the label
    is the registered method with its default options.
    """
    method, options, train = variant or (label, {}, {})
    return {**identity, "method": label, "track": TRACKS.get(method, DEFAULT_TRACK),
            "params": params_text(method, options, train)}


def row(identity: Mapping[str, Any], metric: str, value: object, **measurement: Any) -> Dict[str, Any]:
    """:func:`benchmark.results.make_row` that keeps the ``track`` / ``params`` identity columns
    even while :data:`benchmark.results.IDENTITY` does not list them yet."""
    out = make_row(identity, metric, value, METRICS.get(metric, ""), provenance=PROVENANCE, **measurement)
    out.update({k: identity.get(k, "{}" if k == "params" else "") for k in ("track", "params") if k not in IDENTITY})
    return out


def rows_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as :func:`benchmark.results.read_rows` returns them once the schema lists ``track`` and
    ``params``: typed, sorted like metrics.csv, with both identity columns kept."""
    df = to_frame(rows)
    for column in ("track", "params"):
        if column not in df.columns:
            df[column] = [r.get(column, "{}" if column == "params" else "") for r in rows]
    return df.sort_values(SORT_KEY, kind="mergesort", na_position="first").reset_index(drop=True)


def synthetic_rows(methods: Sequence[str] = ("uniform", "edge_based", "deformation"),
                   resolutions: Sequence[Tuple[int, int]] = ((32, 64), (64, 128), (128, 256)),
                   seeds: Sequence[int] = (0, 1), dataset: str = "synthcity", model: str = "tiny_net",
                   split: str = "val", bands: Sequence[int] = (1, 2, 4, 8, 16),
                   run_prefix: str = "run", variants: Optional[Mapping[str, Variant]] = None
                   ) -> List[Dict[str, object]]:
    """miou, trimap_accuracy (per band), fraction_pixels_sampled, macs/flops (per stage), latency rows.

    One run id per (method label, resolution, seed), with ``track`` and ``params`` (``variants``
    maps a label to its registered method and overrides; other labels are registered methods
    with default options). Deterministic.
    """
    rows: List[Dict[str, object]] = []
    for m_index, method in enumerate(methods):
        for r_index, (height, width) in enumerate(resolutions):
            fraction = height * width / (HR_SIZE[0] * HR_SIZE[1])
            network_macs = 1_000_003 * height * width // 64  # integer, ~1e6 per 64 px
            sampler_macs = 0 if method == "uniform" else 12_345 * (m_index + 1)
            for seed in seeds:
                identity = run_identity(method, (variants or {}).get(method), dataset=dataset, split=split,
                                        run_id=f"{run_prefix}-{method}-{height}x{width}-s{seed}", model=model,
                                        height=height, width=width, seed=seed)
                rng = np.random.default_rng([m_index, r_index, seed])
                noise = float(rng.normal(0, 0.004))

                def add(metric: str, value: object, **measurement: object) -> None:
                    rows.append(row(identity, metric, value, **measurement))

                add("miou", round(0.40 + 0.08 * r_index + 0.02 * m_index + noise, 6))
                add("fraction_pixels_sampled", fraction)
                for band in bands:
                    gain = 0.0 if method == "uniform" else 0.03 * m_index / (1 + 0.2 * band)
                    add("trimap_accuracy", round(0.55 + 0.03 * np.log2(band) + 0.05 * r_index + gain + noise, 6),
                        band_px=band)
                for stage, macs in (("sampler", sampler_macs), ("network", network_macs),
                                    ("total", sampler_macs + network_macs)):
                    add("macs", macs, stage=stage)
                    add("flops", 2 * macs, stage=stage)
                add("latency_ms", round(5.0 + r_index + float(rng.uniform(0, 1)), 3))
    return rows
