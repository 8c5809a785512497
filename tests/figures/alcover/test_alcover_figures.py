"""Alcover-Couso et al. figures and Table V, built from hand-made tidy rows with known answers."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.alcover import shared as common
from paper_figures.alcover.fig_prior_gain import prior_gain_points
from paper_figures.build import build_frame
from paper_figures.reported import load_reported
from paper_figures.synthetic import row, rows_frame, run_identity
from paper_figures.style.palette import method_color

ROOT = Path(__file__).resolve().parents[3]

ALCOVER_IDS = ["table_alcover_priors", "alcover_prior_gain", "alcover_mc", "alcover_samplers", "alcover_batch",
               "alcover_class_gain"]
HR = (256, 512)
CLASSES = ["road", "pole", "rider"]
# Full-resolution shares (rarest last) and D per (mode, scale, class): made-up but exact.
ORIGINAL = {"road": 0.7, "pole": 0.2, "rider": 0.1}
D = {("nearest", 0.125): [-0.004, 0.003, 0.001], ("soft-bilinear", 0.125): [-0.001, 0.0005, 0.0005],
     ("soft-area", 0.125): [0.0, 0.0, 0.0],
     ("nearest", 0.25): [0.002, -0.0015, -0.0005], ("soft-bilinear", 0.25): [0.001, -0.0015, 0.0005],
     ("nearest", 0.5): [0.0003, -0.0002, -0.0001], ("soft-bilinear", 0.5): [0.0, 0.0, 0.0]}
# IoU per (method, height) and class; two seeds at +-0.01 so means are these numbers.
IOU = {("uniform", 32): [0.80, 0.10, 0.05], ("soft_labels", 32): [0.82, 0.30, 0.15],
       ("uniform", 64): [0.85, 0.30, 0.20], ("soft_labels", 64): [0.86, 0.35, 0.30],
       ("uniform", 16): [0.70, 0.00, 0.00], ("soft_labels", 16): [0.71, 0.05, 0.02]}
MIOU = {"uniform": 0.40, "soft_labels_mc_off": 0.45, "soft_labels": 0.50, "uniform_bicubic": 0.41,
        "soft_labels_label_bicubic": 0.48, "soft_labels_colour_bicubic": 0.49, "soft_labels_bicubic": 0.52}
RESOLUTIONS = [(16, 32), (32, 64), (64, 128)]


# The labels of workflows/config.yaml and what they run (as their params say).
VARIANTS = {"soft_labels_mc_off": ("soft_labels", {"mc": False}, {}),
            "uniform_bicubic": ("uniform", {"image_mode": "bicubic"}, {}),
            "soft_labels_label_bicubic": ("soft_labels", {"label_mode": "soft-bicubic"}, {}),
            "soft_labels_colour_bicubic": ("soft_labels", {"image_mode": "bicubic"}, {}),
            "soft_labels_bicubic": ("soft_labels", {"image_mode": "bicubic", "label_mode": "soft-bicubic"}, {})}
VARIANTS.update({f"{m}_bs{b}": (m, {}, {"batch_size": b}) for m in ("uniform", "soft_labels") for b in (1, 2, 4, 8)})
PAIRS = {"uniform": ("bilinear", "nearest"), "uniform_bicubic": ("bicubic", "nearest"),
         "soft_labels_label_bicubic": ("bilinear", "soft-bicubic"), "soft_labels": ("bilinear", "soft-bilinear"),
         "soft_labels_colour_bicubic": ("bicubic", "soft-bilinear"), "soft_labels_bicubic": ("bicubic", "soft-bicubic")}


def _identity(method: str, height, width, seed, split="val", run_id=None, model="tiny_net") -> Dict[str, object]:
    return run_identity(method, VARIANTS.get(method), run_id=run_id or f"run-{method}-{height}-s{seed}",
                        dataset="synthcity", split=split, model=model, height=height, width=width, seed=seed)


def make_row(identity, metric, value, unit="", **measurement):
    return row(identity, metric, value, **measurement)


def alcover_rows() -> List[Dict[str, object]]:
    """Priors (one prior run), per-class IoU, Table III/IV mIoU, Fig 7 batch mIoU."""
    rows: List[Dict[str, object]] = []
    prior = {"run_id": "priors_synthcity_train", "dataset": "synthcity", "split": "train", "method": "soft_labels",
             "model": "", "seed": None, "track": "", "params": "{}"}
    for c in CLASSES:
        rows.append(make_row(dict(prior, height=HR[0], width=HR[1]), "class_frequency", ORIGINAL[c], "fraction",
                             class_name=c, stage="original"))
    for (mode, scale), values in D.items():
        ident = dict(prior, height=int(HR[0] * scale), width=int(HR[1] * scale))
        for c, d in zip(CLASSES, values):
            stage = f"{mode}@{scale:g}"
            rows.append(make_row(ident, "prior_discrepancy", d, "fraction", class_name=c, stage=stage))
            rows.append(make_row(ident, "class_frequency", ORIGINAL[c] - d, "fraction", class_name=c, stage=stage))
    for seed, delta in ((0, -0.01), (1, 0.01)):
        for (method, height), values in IOU.items():
            ident = _identity(method, height, 2 * height, seed)
            for c, v in zip(CLASSES, values):
                rows.append(make_row(ident, "iou", v + delta, "fraction", class_name=c))
                # evaluate's own class_frequency rows (at the run's low height) must not be taken for priors
                rows.append(make_row(ident, "class_frequency", 0.5, "fraction", class_name=c, stage="original"))
        for method, value in MIOU.items():
            for height, width in RESOLUTIONS:
                if method in ("uniform", "soft_labels", "soft_labels_mc_off") or height == 64:
                    rows.append(make_row(_identity(method, height, width, seed), "miou", value + height / 1000 + delta,
                                         "fraction"))
    return rows


def batch_rows() -> List[Dict[str, object]]:
    """The alcover_fig7_batch experiment's mIoU rows (its own metrics file)."""
    rows: List[Dict[str, object]] = []
    for seed, delta in ((0, -0.01), (1, 0.01)):
        for batch in (1, 2, 4, 8):
            for method, base in (("uniform", 0.2), ("soft_labels", 0.45)):
                label = f"{method}_bs{batch}"
                rows.append(make_row(_identity(label, 64, 128, seed), "miou", base + 0.03 * math.log2(batch) + delta,
                                     "fraction"))
    return rows


@pytest.fixture(scope="module")
def df(tmp_path_factory) -> pd.DataFrame:
    # Sorted as metrics.csv is (class names alphabetically), with the params identity column.
    return rows_frame(alcover_rows())


def _texts(ax) -> str:
    return " | ".join(t.get_text() for t in ax.texts)


def _legend_texts(fig: Figure) -> List[str]:
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    texts += [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    return texts


def _bar_heights(ax) -> List[float]:
    return [p.get_height() for container in ax.containers for p in getattr(container, "patches", [])]


def test_all_alcover_outputs_are_registered_and_build(tmp_path):
    assert set(ALCOVER_IDS) <= set(FIGURES.keys())
    written = {p.name for p in build_frame(rows_frame(alcover_rows()), tmp_path / "out", only=ALCOVER_IDS)}
    assert "table_alcover_priors.md" in written and "alcover_prior_gain.png" in written


def test_scale_helpers():
    assert common.scale_text(0.125) == "1/8" and common.scale_text(1.0) == "1"
    assert common.parse_stage("soft-bilinear+cells@0.25") == ("soft-bilinear+cells", 0.25)
    assert common.parse_stage("original") is None and common.parse_stage("sampled") is None
    assert common.match_scale(31, 250, [0.125, 0.25]) == 0.125  # round(250 / 8) = 31
    assert common.match_scale(16, 256, [0.125, 0.25]) is None
    assert common.parse_setting("colour=bilinear; label=nearest; bs=20; scale=1/8")["bs"] == "20"


def test_the_test_variants_are_the_configured_experiments():
    # The figures read what a run was from its params; these rows must say what the config runs.
    experiments = yaml.safe_load((ROOT / "workflows" / "config.yaml").read_text())["experiments"]
    for name in ("alcover_table4_samplers", "alcover_fig7_batch"):
        for label, entry in experiments[name]["methods"].items():
            registered, options, train = VARIANTS.get(label, (label, {}, {}))
            assert (registered, options, train) == (entry["method"], entry.get("options", {}), entry.get("train", {}))
    pairs = {label: common.sampler_pair(json.loads(_identity(label, 64, 128, 0)["params"]))
             for label in experiments["alcover_table4_samplers"]["methods"]}
    assert pairs == PAIRS and sorted(PAIRS.values()) == sorted(common.SAMPLER_ORDER)


def test_strategies_come_from_params_not_labels():
    # A run labelled "uniform" that actually trains soft labels with MC off is MC off.
    odd = run_identity("uniform", ("soft_labels", {"mc": False}, {}), run_id="r")
    assert common.strategy(json.loads(odd["params"])) == common.SOFT_MC_OFF
    assert common.strategy(json.loads(run_identity("x", ("uniform", {"image_mode": "bicubic"}, {}))["params"])) is None


def test_table_v_values_times_1e4_and_mean_abs(df):
    md = FIGURES.get("table_alcover_priors")(df)["markdown"]
    lines = [l for l in md.splitlines() if l.startswith("| ")]
    assert lines[0] == "| strategy @ scale | road | pole | rider | mean \\|D\\| |"  # trainId order, not a-z
    body = {l.split(" | ")[0][2:]: l.split(" | ")[1:] for l in lines[2:9]}
    assert list(body)[:3] == ["nearest @ 1/8", "soft-area @ 1/8", "soft-bilinear @ 1/8"]
    assert body["nearest @ 1/8"][:3] == ["-40.00", "30.00", "10.00"]
    mean_abs = (4 + 3 + 1) / 3 * 10  # |D| x 1e4, mean over the three classes
    assert body["nearest @ 1/8"][3].rstrip(" |") == f"{mean_abs:.2f}"
    assert "nearest @ 1/2" in body and "soft-bilinear @ 1/2" in body
    # The paper's Table V follows in its own section, with its own numbers (road, nearest @ 1/8 = -8.52).
    reported_part = md.split("Reported")[1]
    assert "| nearest @ 1/8 | -8.52 |" in reported_part
    table = FIGURES.get("table_alcover_priors")(df)
    assert r"\begin{tabular}" in table["latex"] and "soft-bilinear @ 1/8" in table["latex"]


def test_prior_gain_points_match_hand_computed_values(df):
    points, unmatched = prior_gain_points(df)
    # 16x32 is 1/16 of 256: no prior at that scale, and it says so.
    assert unmatched[("synthcity", "tiny_net", "val")] == ["16×32"]
    pole = points[(points["height"] == 32) & (points["class_name"] == "pole")].iloc[0]
    assert pole["scale"] == 0.125
    assert pole["gain"] == pytest.approx((0.30 - 0.10) * 100)
    assert pole["x"] == pytest.approx(-math.log10(abs(0.0005 - 0.003)))
    # At 1/4 pole has D_soft = D_nearest: x = inf, left out of the plot and counted.
    pole_quarter = points[(points["height"] == 64) & (points["class_name"] == "pole")].iloc[0]
    assert math.isinf(pole_quarter["x"])


def test_prior_gain_figure_panels(df):
    fig = FIGURES.get("alcover_prior_gain")(df)
    ours, paper = [ax for ax in fig.axes if ax.get_visible()]
    assert ours.get_title().startswith("ours") and paper.get_title().startswith("reported")
    assert "−log10" in ours.get_xlabel() and "(pp)" in ours.get_ylabel()
    assert "no priors at the scale of 16×32" in _texts(ours)
    assert "left out" in _texts(ours) and "1 point(s)" in _texts(ours)
    ours_points = np.concatenate([c.get_offsets() for c in ours.collections])
    assert len(ours_points) == 5  # 3 classes at 1/8 + 2 finite at 1/4
    assert max(ours_points[:, 1]) == pytest.approx(20.0)
    # The paper's points: 19 classes x 3 scales x 2 networks minus infinities (1/2: both D are ~0 only for soft)
    paper_points = np.concatenate([c.get_offsets() for c in paper.collections])
    assert len(paper_points) > 50
    assert set(_legend_texts(fig)) >= {"scale 1/8", "scale 1/4"}


def test_prior_gain_without_priors_says_so(df):
    no_priors = df[df["metric"] != "prior_discrepancy"]
    fig = FIGURES.get("alcover_prior_gain")(no_priors)
    assert "needs 'prior_discrepancy' rows" in _texts(fig.axes[0])


def test_mc_bars_are_the_seed_means_and_reported_is_separate(df):
    fig = FIGURES.get("alcover_mc")(df)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split("\n")[0] for ax in axes] == ["ours", "reported (Table III)", "reported (Table III)"]
    ours = axes[0]
    assert [t.get_text() for t in ours.get_xticklabels()] == ["16×32", "32×64", "64×128"]
    heights = _bar_heights(ours)
    expected = [(MIOU[m] + h / 1000) * 100 for m in ("uniform", "soft_labels_mc_off", "soft_labels")
                for h, _ in RESOLUTIONS]
    assert heights == pytest.approx(expected)
    # Reported HRNetV2 Table III at 1/8: nearest 54.1, MC off 76.0, MC on 75.3.
    hrnet = next(ax for ax in axes if "hrnetv2" in ax.get_title())
    assert sorted(_bar_heights(hrnet))[:3] == pytest.approx([54.1, 71.3, 75.3])
    assert 76.0 == pytest.approx(max(h for h in _bar_heights(hrnet) if h < 77))
    assert _legend_texts(fig) == ["nearest labels", "soft labels, MC off", "soft labels, MC on"]  # the bar order
    for handle, label in zip(fig.legends[0].legend_handles, ["uniform", "soft_labels_mc_off", "soft_labels"]):
        assert handle.get_color() == method_color(label)


def test_samplers_one_bar_per_pair(df):
    fig = FIGURES.get("alcover_samplers")(df)
    ours, paper = [ax for ax in fig.axes if ax.get_visible()]
    assert ours.get_title().startswith("ours") and paper.get_title().startswith("reported")
    pairs = [t.get_text() for t in ours.get_xticklabels()]
    assert pairs[0] == "bilinear\nNN" and pairs[-1] == "bicubic\nsoft bic."
    label_of = {pair: label for label, pair in PAIRS.items()}
    expected = [(MIOU[label_of[p]] + 0.064) * 100 for p in common.SAMPLER_ORDER]
    assert _bar_heights(ours) == pytest.approx(expected)
    assert _bar_heights(paper) == pytest.approx([71.3, 71.4, 80.6, 81.5, 81.3, 82.6])
    assert _legend_texts(fig) == ["nearest labels", "soft labels, MC on"]
    assert [p.get_facecolor() for p in ours.patches][:2] == [to_rgba(method_color("uniform"))] * 2


def test_samplers_and_batch_say_when_the_experiment_was_not_run(df):
    plain = df[df["method"].isin(["uniform", "soft_labels"])]
    fig = FIGURES.get("alcover_samplers")(plain)
    assert "experiment=alcover_table4_samplers" in _texts(fig.axes[0])
    fig = FIGURES.get("alcover_batch")(plain)
    assert "experiment=alcover_fig7_batch" in _texts(fig.axes[0])
    assert "no reported numbers" in _texts([ax for ax in fig.axes if ax.get_visible()][-1])


def test_batch_lines_by_batch_size():
    fig = FIGURES.get("alcover_batch")(rows_frame(batch_rows()))
    ours = fig.axes[0]
    lines = {l.get_label(): l for l in ours.get_lines() if not l.get_label().startswith("_")}
    assert set(lines) == {"uniform", "soft labels"}
    assert list(lines["uniform"].get_xdata()) == [1, 2, 4, 8]
    assert list(lines["soft labels"].get_ydata()) == pytest.approx([(0.45 + 0.03 * k) * 100 for k in range(4)])
    assert lines["uniform"].get_color() == method_color("uniform")


def test_class_gain_orders_classes_by_frequency_and_computes_gain(df):
    fig = FIGURES.get("alcover_class_gain")(df)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert axes[0].get_title().startswith("ours") and all(ax.get_title().startswith("reported") for ax in axes[1:])
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["road", "pole", "rider"]
    # Series are the resolutions (16, 32, 64 high); bars per series run over the classes.
    expected = [(IOU[("soft_labels", h)][i] - IOU[("uniform", h)][i]) * 100 for h in (16, 32, 64) for i in range(3)]
    assert _bar_heights(axes[0]) == pytest.approx(expected)
    assert "32×64 (1/8)" in [t.get_text() for t in axes[0].get_legend().get_texts()]


def test_reported_loader():
    paper = load_reported("alcover2023")
    assert {"Table I", "Table III", "Table IV", "Table V"} <= set(paper["source"])
    assert load_reported("no_such_paper").empty


def test_class_order_survives_sorting_and_handles_other_datasets():
    rows = pd.DataFrame({"class_name": ["rider", "road", "wall", "zebra", "aardvark"]})
    # Cityscapes classes in trainId order, then others by descending frequency, then name.
    assert common.class_order(rows, {"zebra": 0.3, "aardvark": 0.1}) == ["road", "wall", "rider", "zebra", "aardvark"]
    assert common.class_order(rows) == ["road", "wall", "rider", "aardvark", "zebra"]


def test_table_prints_float_noise_as_zero():
    from paper_figures.alcover.table_priors import discrepancy_body
    values = pd.DataFrame({"mode": ["soft-area"] * 2, "scale": [0.5] * 2, "class_name": ["road", "pole"],
                           "value": [-1e-17, 2.5e-4]})
    assert discrepancy_body(values, ["road", "pole"]) == [["soft-area @ 1/2", "0.00", "2.50", "1.25"]]
