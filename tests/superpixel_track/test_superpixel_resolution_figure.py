"""PCNet Fig 1 from stored rows alone: time and peak memory against the input resolution."""
from __future__ import annotations

import json

import pytest

import paper_figures  # noqa: F401  registers every figure
from benchmark.registry import FIGURES
from benchmark.results import make_row, to_frame

SIZES = {"0.5K": (256, 512), "1K": (512, 1024), "2K": (1024, 2048)}
VALUES = {"scn": {"seconds_per_image": (0.4, 3.0, 15.0), "peak_memory_mib": (59.0, 236.0, 944.0)},
          "pcnet": {"seconds_per_image": (0.1, 0.5, 0.9), "peak_memory_mib": (16.6, 66.4, 265.5)}}


def resolution_rows():
    rows = []
    for method, metrics in VALUES.items():
        for k, (label, (h, w)) in enumerate(SIZES.items()):
            identity = {"run_id": f"superpixel-resolution-{method}", "dataset": "random_image", "split": label,
                        "track": "superpixels", "method": method, "params": json.dumps({"method": method}),
                        "model": "", "height": h, "width": w, "seed": 0}
            rows += [make_row(identity, metric, values[k], n_superpixels=h * w // 256)
                     for metric, values in metrics.items()]
    return rows


def test_the_figure_draws_each_method_against_megapixels_from_the_rows():
    fig = FIGURES.get("superpixel_resolution")(to_frame(resolution_rows()))
    assert "resolution" in fig._suptitle.get_text() and fig.legends
    time_ax, memory_ax = fig.axes
    for ax, metric in ((time_ax, "seconds_per_image"), (memory_ax, "peak_memory_mib")):
        assert "(megapixels)" in ax.get_xlabel() and "(" in ax.get_ylabel()
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == set(VALUES)
        assert list(lines["pcnet"].get_xdata()) == pytest.approx([0.131072, 0.524288, 2.097152])
        assert list(lines["scn"].get_ydata()) == pytest.approx(VALUES["scn"][metric])


def test_without_rows_each_panel_says_what_is_missing():
    fig = FIGURES.get("superpixel_resolution")(to_frame([]))
    assert all(any("no data" in t.get_text() for t in ax.texts) for ax in fig.axes)
