"""Synthetic tidy rows with the shape of a real sweep, for tests and for previewing figures.

The numbers follow the papers' qualitative story (mIoU rises with resolution, adaptive methods
beat uniform near boundaries) but are made up: never plot them as results.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from benchmark.results import METRICS, make_row

PROVENANCE: Dict[str, object] = {
    "git_sha": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False, "device": "cpu (x86_64)",
    "torch": "2.4.0", "timm": "1.0.0", "created": "2024-01-01T00:00:00Z", "config_hash": "abcdef012345",
}
HR_SIZE: Tuple[int, int] = (256, 512)


def synthetic_rows(methods: Sequence[str] = ("uniform", "edge_based", "deformation"),
                   resolutions: Sequence[Tuple[int, int]] = ((32, 64), (64, 128), (128, 256)),
                   seeds: Sequence[int] = (0, 1), dataset: str = "synthcity", model: str = "tiny_net",
                   split: str = "val", bands: Sequence[int] = (1, 2, 4, 8, 16),
                   run_prefix: str = "run") -> List[Dict[str, object]]:
    """miou, trimap_accuracy (per band), fraction_pixels_sampled, macs/flops (per stage), latency rows.

    One run id per (method, resolution, seed). Deterministic.
    """
    rows: List[Dict[str, object]] = []
    for m_index, method in enumerate(methods):
        for r_index, (height, width) in enumerate(resolutions):
            fraction = height * width / (HR_SIZE[0] * HR_SIZE[1])
            network_macs = 1_000_003 * height * width // 64  # integer, ~1e6 per 64 px
            sampler_macs = 0 if method == "uniform" else 12_345 * (m_index + 1)
            for seed in seeds:
                identity = {"run_id": f"{run_prefix}-{method}-{height}x{width}-s{seed}", "dataset": dataset,
                            "split": split, "method": method, "model": model, "height": height, "width": width,
                            "seed": seed}
                rng = np.random.default_rng([m_index, r_index, seed])
                noise = float(rng.normal(0, 0.004))

                def add(metric: str, value: object, **measurement: object) -> None:
                    rows.append(make_row(identity, metric, value, METRICS[metric], provenance=PROVENANCE,
                                         **measurement))

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
