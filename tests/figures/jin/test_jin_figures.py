"""Jin et al. 2022 figures and table (jin_*, table_jin) from synthetic rows holding exactly the metrics they read."""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import paper_figures.reported as reported_module
from benchmark.registry import FIGURES
from benchmark.results import to_frame
from paper_figures.jin.shared import reference_options, reported_method_rows, with_run_settings
from paper_figures.style.palette import method_color
from paper_figures.synthetic import row, rows_frame, run_identity, synthetic_rows

JIN = ("uniform", "edge_based", "deformation", "deformation_single", "edge_sim", "interpolation")
RESOLUTIONS = ((16, 32), (32, 64))
# Original pixel frequencies (sum 1): pole rarest, road most frequent.
ORIGINAL = {"road": 0.55, "car": 0.25, "person": 0.15, "pole": 0.05}
RADII = {"edge_sim_r0p5": 0.30, "edge_sim_r1": 0.34, "edge_sim_r2": 0.41, "edge_sim_r4": 0.37}
SENSITIVITY = {"deformation_sigma_frac0p08": 0.43, "deformation_gamma50": 0.42, "deformation_gamma200": 0.45}
# What each label runs, as its params say (the figures never read the labels).
VARIANTS = {"edge_sim_r0p5": ("edge_sim", {"radius": 0.5}, {}), "edge_sim_r1": ("edge_sim", {"radius": 1.0}, {}),
            "edge_sim_r2": ("edge_sim", {"radius": 2.0}, {}), "edge_sim_r4": ("edge_sim", {"radius": 4.0}, {}),
            "deformation_sigma_frac0p08": ("deformation", {"sigma_frac": 0.08}, {}),
            "deformation_gamma50": ("deformation", {"gamma": 50.0}, {}),
            "deformation_gamma200": ("deformation", {"gamma": 200.0}, {})}


def _identity(method: str, height: int, width: int, seed: int) -> Dict[str, object]:
    return run_identity(method, VARIANTS.get(method), run_id=f"jin-{method}-{height}x{width}-s{seed}",
                        dataset="synthcity", split="val", model="tiny_net", height=height, width=width, seed=seed)


def _add(rows: List[dict], identity: dict, metric: str, value: float, **measurement: object) -> None:
    rows.append(row(identity, metric, value, **measurement))


def jin_sweep_rows(seeds=(0, 1)) -> List[dict]:
    """synthetic_rows (miou, trimap, fraction, ...) of the Jin methods plus the rows the Jin figures read:
    miou_intrinsic, per-class iou, class_frequency (original / sampled), the radius sweep and a sensitivity sweep."""
    rows = synthetic_rows(methods=JIN, resolutions=RESOLUTIONS, seeds=seeds, run_prefix="jin", variants=VARIANTS)
    for m_index, method in enumerate(JIN):
        for r_index, (height, width) in enumerate(RESOLUTIONS):
            for seed in seeds:
                identity = _identity(method, height, width, seed)
                _add(rows, identity, "miou_intrinsic", 0.70 + 0.1 * r_index + 0.01 * m_index + 0.001 * seed)
                for c_index, (name, frequency) in enumerate(ORIGINAL.items()):
                    _add(rows, identity, "iou", 0.3 + 0.1 * c_index + 0.02 * m_index + 0.01 * seed, class_name=name)
                    _add(rows, identity, "class_frequency", frequency, stage="original", class_name=name)
                    # Rare classes gain samples with non-uniform methods, more for seed 1.
                    boost = 1.0 + (0.0 if method == "uniform" else 0.1 * m_index * (1 - frequency) + 0.05 * seed)
                    _add(rows, identity, "class_frequency", frequency * boost, stage="sampled", class_name=name)
    for method, miou in {**RADII, **SENSITIVITY}.items():
        for seed in seeds:
            identity = _identity(method, 32, 64, seed)
            _add(rows, identity, "miou", miou + 0.002 * seed)
            _add(rows, identity, "miou_intrinsic", miou + 0.3)
    return rows


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return rows_frame(jin_sweep_rows())


def _mean(df: pd.DataFrame, metric: str, **equal: object) -> float:
    mask = df["metric"] == metric
    for column, value in equal.items():
        mask &= df[column] == value
    return float(df.loc[mask, "value"].mean())


def _line(ax, label: str):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def _legend_texts(fig: Figure) -> List[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def _reported_lines(ax):
    return [line for line in ax.get_lines() if line.get_label().startswith("_reported")]


# --- label parsers ---------------------------------------------------------------------------


def test_variants_are_found_by_their_params_not_their_labels(df):
    settings = with_run_settings(df[df["metric"] == "miou"]).drop_duplicates("method").set_index("method")
    assert settings.at["deformation_sigma_frac0p08", "varied"] == ("sigma_frac",)
    assert settings.at["deformation_gamma200", "varied"] == ("gamma",)
    assert settings.at["deformation", "varied"] == () and settings.at["edge_sim_r0p5", "radius"] == 0.5
    assert reference_options([{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 9, "b": 2}]) == {"a": 1, "b": 2}
    # A label that reads like a variant but runs the defaults is the reference run.
    odd = rows_frame([row(run_identity("deformation_sigma0p5", ("deformation", {}, {}), run_id="x", dataset="d",
                                       split="val", model="m", height=8, width=16, seed=0), "miou", 0.5)])
    assert with_run_settings(odd)["varied"].iloc[0] == ()


# --- Fig 6 -----------------------------------------------------------------------------------


def test_cost_performance_has_two_panels_and_a_separate_reported_panel(df):
    fig = FIGURES.get("jin_cost_performance")(df)
    miou_ax, intrinsic_ax, reported_ax = fig.axes
    assert miou_ax.get_title().startswith("mIoU\n") and intrinsic_ax.get_title().startswith("mIoU(Y′, Y)")
    assert reported_ax.get_title().startswith("reported: Jin et al. 2022")
    assert miou_ax.get_ylabel() == "mIoU (%)" and intrinsic_ax.get_ylabel() == "mIoU(Y′, Y) (%)"
    assert all(ax.get_xlabel() == "pixels sampled (%, log scale)" for ax in fig.axes)
    # Our numbers: x = % of pixels sampled, y = mean over seeds in %; variants are not plotted.
    for ax, metric in ((miou_ax, "miou"), (intrinsic_ax, "miou_intrinsic")):
        assert {l.get_label() for l in ax.get_lines() if not l.get_label().startswith("_")} == \
            {m.replace("_", " ") for m in JIN}
        line = _line(ax, "deformation")
        expected_x = [h * w / (256 * 512) * 100 for h, w in RESOLUTIONS]
        expected_y = [_mean(df, metric, method="deformation", height=h) * 100 for h, _ in RESOLUTIONS]
        assert list(line.get_xdata()) == pytest.approx(expected_x)
        assert list(line.get_ydata()) == pytest.approx(expected_y)
        assert not _reported_lines(ax)
    # Reported: Fig 9a at the 1024x1024 crop -> 64^2/1024^2 = 0.39 % etc., none of our lines there.
    reported = _reported_lines(reported_ax)
    assert reported and len(reported) == len(reported_ax.get_lines())
    deformation = next(l for l in reported if "deformation miou" in l.get_label())
    assert list(deformation.get_xdata()) == pytest.approx([0.390625, 1.5625, 6.25])
    assert list(deformation.get_ydata()) == pytest.approx([36.0, 47.0, 55.0])
    assert deformation.get_color() == method_color("deformation")
    assert {"uniform", "deformation", "deformation single", "interpolation"} <= set(_legend_texts(fig))


def test_missing_reported_file_says_so(df, tmp_path, monkeypatch):
    monkeypatch.setattr(reported_module, "REPORTED_DIR", tmp_path)
    for key in ("jin_cost_performance", "jin_methods"):
        fig = FIGURES.get(key)(df)
        reported_ax = fig.axes[-1]
        assert any("no reported numbers" in t.get_text() for t in reported_ax.texts), key
        assert not reported_ax.get_lines()


def test_reported_rows_keep_method_level_numbers_with_their_pixel_fraction():
    reported = pd.DataFrame([
        # method level, fraction from Table 8 (same dataset and size)
        {"source": "Fig 6", "dataset": "deepglobe", "method": "uniform", "model": "m", "height": 100, "width": 100,
         "metric": "miou", "value": 0.4, "setting": None},
        # a sensitivity row: left out
        {"source": "Table 2", "dataset": "deepglobe", "method": "deformation", "model": "m", "height": 100,
         "width": 100, "metric": "miou", "value": 0.45, "setting": "sigma=25"},
        {"source": "Table 8", "dataset": "deepglobe", "method": "all", "model": None, "height": 100, "width": 100,
         "metric": "fraction_pixels_sampled", "value": 0.0017, "setting": "original=2448x2448"},
        # no Table 8 row at this size: h*w over the original size
        {"source": "Fig 6", "dataset": "deepglobe", "method": "uniform", "model": "m", "height": 200, "width": 100,
         "metric": "miou_intrinsic", "value": 0.9, "setting": "a note"},
    ])
    rows = reported_method_rows(reported)
    assert list(rows["source"]) == ["Fig 6", "Fig 6"]
    assert list(rows["fraction"]) == pytest.approx([0.0017, 200 * 100 / 2448 ** 2])
    assert reported_method_rows(pd.DataFrame()).empty


# --- Fig 9a ----------------------------------------------------------------------------------


def test_methods_plots_miou_against_size_and_the_fig9a_numbers_separately(df):
    fig = FIGURES.get("jin_methods")(df)
    ours, reported_ax = fig.axes
    assert "synthcity" in ours.get_title()
    line = _line(ours, "interpolation")
    assert list(line.get_xdata()) == [h * w for h, w in RESOLUTIONS]
    assert list(line.get_ydata()) == pytest.approx(
        [_mean(df, "miou", method="interpolation", height=h) * 100 for h, _ in RESOLUTIONS])
    assert [t.get_text() for t in ours.get_xticklabels()] == ["16×32", "32×64"]
    # The radius sweep shows its reference radius (2, most runs) only: r2 and the plain edge_sim label.
    assert {l.get_label() for l in ours.get_lines()} >= {"edge sim", "edge sim r2"}
    assert not any(l.get_label() in ("edge sim r0p5", "edge sim r1", "edge sim r4") for l in ours.get_lines())
    assert "cityscapes (Fig 9a)" in reported_ax.get_title()
    reported = {l.get_label().split()[2]: l for l in _reported_lines(reported_ax)}
    assert set(reported) == {"uniform", "deformation", "edge_based", "interpolation"}
    assert list(reported["edge_based"].get_ydata()) == pytest.approx([32.0, 43.0, 54.0])
    assert [t.get_text() for t in reported_ax.get_xticklabels()] == ["64×64", "128×128", "256×256"]
    assert not _reported_lines(ours)


# --- Fig 9b ----------------------------------------------------------------------------------


def test_trimap_gain_is_the_difference_to_uniform_with_the_miou_gain(df):
    fig = FIGURES.get("jin_trimap_gain")(df)
    # Two panels per resolution: the trimap gain and the mIoU gain are different measures.
    assert [ax.get_title() for ax in fig.axes] == ["16×32 · near boundaries", "16×32 · overall",
                                                   "32×64 · near boundaries", "32×64 · overall"]
    assert fig.axes[0].get_ylabel() == "trimap accuracy − uniform (pp)"
    assert fig.axes[1].get_ylabel() == "mIoU − uniform (pp)"
    ax, ax_miou = fig.axes[2], fig.axes[3]  # 32x64
    rows = df[(df["metric"] == "trimap_accuracy") & (df["height"] == 32)]
    mean = rows.groupby(["method", "band_px"])["value"].mean()
    bands = sorted(rows["band_px"].unique())
    line = _line(ax, "deformation")
    assert list(line.get_xdata()) == bands
    assert list(line.get_ydata()) == pytest.approx([(mean[("deformation", b)] - mean[("uniform", b)]) * 100
                                                    for b in bands])
    miou_gain = (_mean(df, "miou", method="deformation", height=32) - _mean(df, "miou", method="uniform", height=32))
    names = [t.get_text() for t in ax_miou.get_xticklabels()]
    bar = ax_miou.patches[names.index("deformation")]
    assert bar.get_height() == pytest.approx(miou_gain * 100)
    assert not [l for l in ax.get_lines() if l.get_linestyle() == ":"]  # no mIoU line on the trimap axis


# --- Fig 13 and Fig 5 ------------------------------------------------------------------------


def _bars(ax) -> List[float]:
    return [patch.get_height() for patch in ax.patches]


def test_class_frequency_change_per_class_ordered_by_frequency(df):
    fig = FIGURES.get("jin_class_frequency")(df)
    ax = fig.axes[0]  # 16x32
    assert [t.get_text() for t in ax.get_xticklabels()] == \
        ["pole (5.0%)", "person (15.0%)", "car (25.0%)", "road (55.0%)"]
    assert ax.get_ylabel() == "sampled / original − 1 (%)"
    bars = _bars(ax)
    assert len(bars) == len(JIN) * len(ORIGINAL)
    # Bars are drawn method by method (METHOD_ORDER = JIN order), classes by frequency.
    order = sorted(ORIGINAL, key=ORIGINAL.get)
    deformation = bars[JIN.index("deformation") * 4:(JIN.index("deformation") + 1) * 4]
    m_index = JIN.index("deformation")
    expected = [np.mean([0.1 * m_index * (1 - ORIGINAL[c]) + 0.05 * s for s in (0, 1)]) * 100 for c in order]
    assert deformation == pytest.approx(expected)
    assert bars[:4] == pytest.approx([0.0] * 4)  # uniform samples every class in proportion here


def test_class_iou_gain_of_deformation_over_uniform(df):
    fig = FIGURES.get("jin_class_iou_gain")(df)
    ax = fig.axes[1]  # 32x64
    order = sorted(ORIGINAL, key=ORIGINAL.get)
    assert [t.get_text().split(" (")[0] for t in ax.get_xticklabels()] == order
    bars = _bars(ax)
    drawn = ["edge_based", "deformation", "deformation_single", "edge_sim"]  # interpolation is not in Fig 5
    assert len(bars) == len(drawn) * len(order)
    k = drawn.index("deformation")
    expected = [(_mean(df, "iou", method="deformation", height=32, class_name=c)
                 - _mean(df, "iou", method="uniform", height=32, class_name=c)) * 100 for c in order]
    assert bars[k * 4:(k + 1) * 4] == pytest.approx(expected)
    assert {"deformation", "edge sim"} <= set(_legend_texts(fig))


def test_class_iou_gain_without_frequencies_is_alphabetical(df):
    fig = FIGURES.get("jin_class_iou_gain")(df[df["metric"] != "class_frequency"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(ORIGINAL)
    assert "alphabetical" in ax.get_xlabel()


# --- Fig 14 ----------------------------------------------------------------------------------


def test_edge_sim_radius_bars_highlight_the_best_radius(df):
    sweep = df[~((df["method"] == "edge_sim") & (df["height"] == 32))]  # r2 alone is radius 2 at 32x64
    fig = FIGURES.get("jin_edge_sim_radius")(sweep)
    ax = next(ax for ax in fig.axes if ax.get_title() == "32×64")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "2", "4"]
    heights = _bars(ax)
    expected = [np.mean([RADII[m] + 0.002 * s for s in (0, 1)]) * 100 for m in
                ("edge_sim_r0p5", "edge_sim_r1", "edge_sim_r2", "edge_sim_r4")]
    assert heights == pytest.approx(expected)
    # B1: every bar, the reference line and the label inside the axes; bars from 0; no empty panel.
    for panel in fig.axes:
        low, high = panel.get_ylim()
        assert low == 0.0 < high and all(p.get_height() < high for p in panel.patches)
        assert all(low <= line.get_ydata()[0] <= high for line in panel.get_lines())
        assert panel.patches, panel.get_title()
    alphas = [patch.get_alpha() for patch in ax.patches]
    assert alphas[2] == 1.0 and all(a < 1.0 for i, a in enumerate(alphas) if i != 2)
    assert any(t.get_text() == "best R=2" for t in ax.texts)
    assert {"best radius", "other radii"} <= set(_legend_texts(fig))


# --- table -----------------------------------------------------------------------------------


def test_table_has_both_accuracies_per_resolution_and_sensitivity_tables(df):
    table = FIGURES.get("table_jin")(df)
    md = table["markdown"]
    lines = [l for l in md.splitlines() if l.startswith("| ")]
    header = lines[0]
    assert header.startswith("| method | 16×32 (0.39% px) mIoU | 16×32 (0.39% px) mIoU(Y',Y) | 32×64 (1.6% px) mIoU")
    main = lines[:lines.index(next(l for l in lines[1:] if l.startswith("| sigma_frac") or l.startswith("| gamma")
                                   or l.startswith("| radius")))]
    methods = [l.split(" | ")[0][2:] for l in main if not l.startswith(("| method", "| :"))]
    assert methods == ["uniform", "edge_based", "deformation", "deformation_single", "edge_sim", "edge_sim_r2",
                       "interpolation"]  # variants (other options than the reference run's) left out
    deformation_row = next(l for l in lines if l.startswith("| deformation |"))
    mean = _mean(df, "miou_intrinsic", method="deformation", height=16) * 100
    std = df[(df["metric"] == "miou_intrinsic") & (df["method"] == "deformation") & (df["height"] == 16)]["value"].std() * 100
    assert deformation_row.split(" | ")[2] == f"{mean:.1f} ± {std:.1f}"
    assert "### Sensitivity of deformation to sigma_frac" in md and "### Sensitivity of deformation to gamma" in md
    assert "### Sensitivity of edge_sim to radius" in md
    sigma_rows = [l.split(" | ")[0][2:] for l in lines if l.startswith(("| 0.08", "| 0.125"))]
    assert sigma_rows == ["0.08", "0.125 (reference)"]  # numeric order, the reference run marked
    gamma_rows = [l.split(" | ")[0][2:] for l in lines if l.startswith(("| 50", "| 100", "| 200"))]
    assert gamma_rows == ["50.0", "100.0 (reference)", "200.0"]
    gamma_row = next(l for l in lines if l.startswith("| 50.0 |"))
    assert gamma_row.split(" | ")[1] == "–"  # the sweep has no 16x32 run
    assert "mIoU(Y', Y): the mIoU of Y'" in md  # B6: the table defines its second measure
    assert table["latex"].count(r"\begin{tabular}") == 4


def test_table_omits_sensitivity_tables_without_those_runs(df):
    plain = df[~df["method"].str.startswith(("deformation_sigma", "deformation_gamma", "edge_sim_r"))]
    md = FIGURES.get("table_jin")(plain)["markdown"]
    assert "Sensitivity" not in md and "| deformation_single |" in md


# --- robustness ------------------------------------------------------------------------------


JIN_FIGURES = ["jin_cost_performance", "jin_methods", "jin_trimap_gain", "jin_class_frequency", "jin_class_iou_gain",
               "jin_edge_sim_radius"]


@pytest.mark.parametrize("key", JIN_FIGURES)
def test_rows_without_jin_metrics_give_labelled_no_data_panels(key):
    df = to_frame(synthetic_rows(methods=("edge_based",), resolutions=((8, 16),), seeds=(0,)))
    df = df[~df["metric"].isin(["miou", "trimap_accuracy"])]
    fig = FIGURES.get(key)(df)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("no data" in t for t in texts), key
    assert fig.legends and "Jin et al. Fig " in fig._suptitle.get_text()
    assert all(ax.get_xlabel() for ax in fig.axes)


def test_failed_rows_are_not_plotted(df):
    broken = df.copy()
    mask = (broken["metric"] == "miou") & broken["method"].isin(["edge_sim_r2", "edge_sim"])
    broken.loc[mask, ["status", "reason", "value"]] = ["failed", "oom", np.nan]
    fig = FIGURES.get("jin_edge_sim_radius")(broken)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0.5", "1", "4"]
    assert any(t.get_text() == "best R=4" for t in fig.axes[0].texts)
