"""paper_figures.style: one palette, one order, seed aggregation."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from benchmark.registry import FIGURES
from benchmark.results import to_frame
from paper_figures.rows import ok_rows, seed_summary
from paper_figures.style.palette import METHOD_ORDER, PRIMARY, method_style, sort_methods
from paper_figures.style.panels import split_titles
from paper_figures.synthetic import rows_frame, synthetic_rows

ROOT = Path(__file__).resolve().parents[3]


def test_every_listed_method_has_its_own_colour_and_marker_pair_and_uniform_is_dashed():
    pairs = [(method_style(m)["color"], method_style(m)["marker"]) for m in METHOD_ORDER]
    assert len(set(pairs)) == len(pairs)
    # The registered methods keep distinct colours (not only distinct pairs).
    assert len({method_style(m)["color"] for m in PRIMARY}) == len(PRIMARY)
    assert method_style("uniform")["linestyle"] == "--"
    assert method_style("edge_based")["linestyle"] == "-"


def test_unknown_methods_get_a_stable_extra_colour():
    style = method_style("brand_new_method")
    assert (style["color"], style["marker"]) not in {(method_style(m)["color"], method_style(m)["marker"])
                                                     for m in METHOD_ORDER}
    # Same colour in another process with another str-hash salt.
    code = "from paper_figures.style.palette import method_style; print(method_style('brand_new_method')['color'])"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == style["color"], out.stderr


def test_sort_methods_follows_the_one_order_then_names():
    assert sort_methods(["zeta", "soft_labels", "uniform", "alpha", "edge_based", "uniform"]) == \
        ["uniform", "edge_based", "soft_labels", "alpha", "zeta"]


def test_seed_summary_matches_a_brute_force_loop():
    df = to_frame(synthetic_rows(seeds=(0, 1, 2)))
    rows = ok_rows(df, "miou")
    summary = seed_summary(rows, ["method", "height"])
    for _, got in summary.iterrows():
        values = [r["value"] for _, r in rows.iterrows()
                  if r["method"] == got["method"] and r["height"] == got["height"]]
        assert got["mean"] == pytest.approx(np.mean(values))
        assert got["std"] == pytest.approx(np.std(values, ddof=1))
        assert got["n"] == 3


def test_seed_summary_one_seed_has_zero_spread_and_keeps_missing_keys():
    df = to_frame(synthetic_rows(methods=("uniform",), resolutions=((8, 16),), seeds=(0,), split=None))
    summary = seed_summary(ok_rows(df, "miou"), ["split", "method"])
    assert len(summary) == 1 and summary["std"].iloc[0] == 0 and summary["n"].iloc[0] == 1


def test_ok_rows_drops_failed_and_skipped():
    df = to_frame(synthetic_rows(methods=("uniform",), resolutions=((8, 16),), seeds=(0, 1)))
    df.loc[(df["metric"] == "miou") & (df["seed"] == 1), ["status", "reason", "value"]] = ["failed", "oom", np.nan]
    assert list(ok_rows(df, "miou")["seed"]) == [0]
    assert len(ok_rows(df, "macs", stage="total")) == 2


def _errorbars(fig):
    return sum(isinstance(c, LineCollection) for ax in fig.axes for c in ax.collections)


def test_error_bars_only_where_more_than_one_seed():
    one_seed = rows_frame(synthetic_rows(seeds=(0,)))
    two_seeds = rows_frame(synthetic_rows(seeds=(0, 1)))
    for key in ("cost_curves", "cost_fraction", "trimap"):
        assert _errorbars(FIGURES.get(key)(one_seed)) == 0, key
        assert _errorbars(FIGURES.get(key)(two_seeds)) > 0, key


def test_split_titles_moves_shared_parts_up():
    assert split_titles([("synthcity", "net", "32×64"), ("synthcity", "net", "64×128")]) == \
        ("synthcity · net", ["32×64", "64×128"])
    assert split_titles([("a", "net"), ("b", "net")]) == ("net", ["a", "b"])


def test_every_configured_label_is_listed_with_its_own_style():
    # B2: edge_sim_r1 and soft_labels_mc_off once shared a hashed colour and marker.
    import yaml
    config = yaml.safe_load((ROOT / "workflows" / "config.yaml").read_text())
    labels = set(config["methods"]) | {l for e in config["experiments"].values() for l in e.get("methods", {})}
    assert labels <= set(METHOD_ORDER), sorted(labels - set(METHOD_ORDER))
    styles = {(method_style(m)["color"], method_style(m)["marker"]) for m in labels}
    assert len(styles) == len(labels)


def test_a_long_note_is_wrapped_so_it_stays_under_its_panel():
    # jin_class_iou_gain's list of never-learned classes once ran across the neighbouring panel.
    from paper_figures.style.panels import NOTE_WRAP, new_figure, note

    fig, axes = new_figure(4, "t")
    note(axes[0], "left out, never learned (IoU 0 for every method): " + ", ".join(["traffic light"] * 8))
    text = axes[0].texts[-1].get_text()
    assert "\n" in text and max(len(line) for line in text.split("\n")) <= NOTE_WRAP
