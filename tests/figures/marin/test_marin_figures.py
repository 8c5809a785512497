"""Marin et al. 2019 figures and table, and the Fig 3 sampling-point rows, from hand-made tidy rows."""
from __future__ import annotations

import math
from typing import Dict, List

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import paper_figures  # noqa: F401  registers every figure
from benchmark.errors import DsbenchError
from benchmark.registry import FIGURES
from benchmark.results import METRICS, make_row, to_frame, write_rows
from methods.edge_based.sampling_points import (lambda_stage, sampling_points_from_labels, sampling_points_rows,
                                                thumbnail_size)
from methods.edge_based.sampling_tensor import boundary_map, sampling_for_lambdas
from paper_figures import reported
from paper_figures.marin.shared import compare_to_uniform, smallest_resolutions
from paper_figures.style.palette import method_color, method_style
from paper_figures.synthetic import PROVENANCE, rows_frame, synthetic_rows
from paper_figures.synthetic import row as synthetic_row
from paper_figures.synthetic import run_identity
from paper_figures.marin import shared as marin_shared

RESOLUTIONS = ((16, 32), (32, 64), (64, 128))
METHODS = ("uniform", "edge_based", "deformation")
MARIN_IDS = ["marin_cost_curves", "marin_trimap", "marin_recall_by_size", "marin_sampling", "table_marin"]
# Hand-set recall (uniform, edge_based) per size bin, same for every class, run and seed.
RECALL = {"q1": (0.20, 0.30), "q2": (0.40, 0.50), "q3": (0.50, 0.55), "q4": (0.80, 0.80)}


def _identity(row: Dict[str, object]) -> Dict[str, object]:
    return {k: row[k] for k in ("run_id", "dataset", "split", "method", "model", "height", "width", "seed",
                                "track", "params")}


def disk_labels(height: int = 24, width: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    labels = np.zeros((height, width), dtype=np.uint8)
    labels[yy > 0.6 * height] = 1
    labels[(yy - 8) ** 2 + (xx - 12) ** 2 < 25] = 11
    return labels


def disk_image(labels: np.ndarray) -> np.ndarray:
    """An RGB image of a label map: one colour per class (uint8, (H, W, 3))."""
    colours = np.zeros((256, 3), np.uint8)
    colours[[0, 1, 11]] = [(128, 64, 128), (244, 35, 232), (220, 20, 60)]
    return colours[labels]


SAMPLING_IDENTITY = {"run_id": "synthcity-sampling_points", "dataset": "synthcity", "split": "val",
                     "method": "edge_based", "model": None, "height": 4, "width": 6, "seed": None}


def marin_rows() -> List[Dict[str, object]]:
    """synthetic_rows (miou, trimap, macs, ...) plus miou_target, recall_by_size and Fig 3 rows."""
    rows = synthetic_rows(methods=METHODS, resolutions=RESOLUTIONS, seeds=(0, 1))
    extra = []
    for row in rows:
        if row["metric"] != "miou":
            continue
        identity = _identity(row)
        extra.append(synthetic_row(identity, "miou_target", row["value"] - 0.1))
        for size_bin, (uniform, edge) in RECALL.items():
            value = {"uniform": uniform, "edge_based": edge}.get(row["method"], 0.9)
            for class_name in ("all", "car", "person"):
                extra.append(synthetic_row(identity, "recall_by_size", value, size_bin=size_bin,
                                           class_name=class_name))
    extra += [dict(r, track="", params="{}") for r in
              sampling_points_from_labels(disk_labels(), (4, 6), identity=SAMPLING_IDENTITY,
                                          image=disk_image(disk_labels()), provenance=PROVENANCE)]
    return rows + extra


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return rows_frame(marin_rows())


def _visible(fig: Figure):
    return [ax for ax in fig.axes if ax.get_visible()]


def _lines(ax) -> Dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def _texts(fig: Figure) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


# ---------------------------------------------------------------------------------------------- helpers


def test_marin_methods_are_uniform_and_edge_based_runs_by_params():
    rows = rows_frame(synthetic_rows(methods=("uniform", "lam0", "edge_sim_r2", "edge_based_like"), seeds=(0,),
                                     variants={"lam0": ("edge_based", {"lam": 0.0}, {}),
                                               "edge_based_like": ("deformation", {}, {})}))
    assert set(marin_shared.marin_rows(rows)["method"]) == {"uniform", "lam0"}  # by params.method, not by label


def test_smallest_resolutions_by_pixel_count():
    rows = pd.DataFrame({"height": [64, 16, 32, 16], "width": [128, 32, 64, 32]})
    assert smallest_resolutions(rows) == [(16, 32), (32, 64)]
    assert smallest_resolutions(rows.iloc[:0]) == []


def test_compare_to_uniform_difference_and_ratio_by_hand():
    summary = pd.DataFrame({"band_px": [1, 1, 2, 2, 4], "method": ["uniform", "edge_based"] * 2 + ["edge_based"],
                            "registered": ["uniform", "edge_based"] * 2 + ["edge_based"],
                            "mean": [0.5, 0.6, 0.8, 0.7, 0.9], "std": [0.0, 0.01, 0.0, 0.02, 0.0], "n": [2] * 5})
    diff = compare_to_uniform(summary, ["band_px"], "difference")
    assert list(diff["band_px"]) == [1, 2]  # band 4 has no uniform row
    assert list(diff["rel"]) == pytest.approx([10.0, -10.0])
    assert list(diff["rel_std"]) == pytest.approx([1.0, 2.0])
    ratio = compare_to_uniform(summary, ["band_px"], "ratio")
    assert list(ratio["rel"]) == pytest.approx([1.2, 0.875])
    zero = summary.assign(mean=[0.0, 0.6, 0.8, 0.7, 0.9])
    assert list(compare_to_uniform(zero, ["band_px"], "ratio")["band_px"]) == [2]  # 0.6 / 0 is undefined
    with pytest.raises(ValueError):
        compare_to_uniform(summary, ["band_px"], "percent")


# ---------------------------------------------------------------------------------------------- cost curves


def test_cost_curves_ours_panels_plot_gmacs_against_both_mious(df):
    fig = FIGURES.get("marin_cost_curves")(df)
    ours = _visible(fig)[:2]
    assert [ax.get_title() for ax in ours] == ["synthcity · val · tiny_net · all classes",
                                               "synthcity · val · tiny_net · target classes"]
    assert [ax.get_ylabel() for ax in ours] == ["mIoU (%)", "target-class mIoU (%)"]
    assert all(ax.get_xlabel().startswith("cost (GMACs per image") for ax in ours)
    for ax, metric in zip(ours, ("miou", "miou_target")):
        lines = _lines(ax)
        assert set(lines) == {"uniform", "edge based"}  # deformation is another paper's method
        assert lines["edge based"].get_color() == method_color("edge_based")
        rows = df[(df["method"] == "edge_based") & (df["metric"] == metric)]
        macs = df[(df["method"] == "edge_based") & (df["metric"] == "macs") & (df["stage"] == "total")]
        expected_y = rows.groupby("height")["value"].mean().sort_index() * 100
        expected_x = macs.groupby("height")["value"].mean().sort_index() / 1e9
        assert list(lines["edge based"].get_xdata()) == pytest.approx(list(expected_x))
        assert list(lines["edge based"].get_ydata()) == pytest.approx(list(expected_y))
    # miou_target was written as miou - 0.1: ten points lower, by hand.
    uniform_all, uniform_target = (_lines(ax)["uniform"].get_ydata() for ax in ours)
    assert np.asarray(uniform_all) - np.asarray(uniform_target) == pytest.approx([10.0] * 3)
    assert fig.legends and [t.get_text() for t in fig.legends[0].get_texts()] == ["uniform", "edge based"]


def test_cost_curves_reported_numbers_sit_in_separate_panels(df):
    fig = FIGURES.get("marin_cost_curves")(df)
    rep = reported.load_reported("marin2019")
    rep = rep[rep["metric"].isin(["miou", "miou_target"]) & rep["class_name"].isna()]
    axes = _visible(fig)
    ours, theirs = axes[:2], axes[2:]
    assert len(theirs) == len(rep.groupby(["source", "dataset", "model", "metric"], dropna=False))
    assert all("Table" in ax.get_title() for ax in theirs) and not any("Table" in ax.get_title() for ax in ours)
    assert all(ax.get_xlabel().startswith("cost (GFLOPs") for ax in theirs)
    printed = set(np.round(rep["gflops"].astype(float), 6))
    for ax in ours:  # none of the paper's numbers on our axes
        for line in ax.get_lines():
            assert not set(np.round(np.asarray(line.get_xdata(), float), 6)) & printed
    # Table 5 (supervisely), edge-based: GFLOPs and mIoU exactly as transcribed.
    ax = next(a for a in theirs if a.get_title().startswith("supervisely (Table 5)"))
    t5 = rep[(rep["source"] == "Table 5") & (rep["method"] == "edge_based")].sort_values("gflops")
    line = _lines(ax)["edge based"]
    assert list(line.get_xdata()) == pytest.approx(list(t5["gflops"]))
    assert list(line.get_ydata()) == pytest.approx(list(t5["value"] * 100))
    assert any("Reported by Marin" in sub._suptitle.get_text() for sub in fig.subfigs)


def test_cost_curves_without_a_reported_file_say_so(df, tmp_path, monkeypatch):
    monkeypatch.setattr(reported, "REPORTED_DIR", tmp_path)
    fig = FIGURES.get("marin_cost_curves")(df)
    assert "no reported numbers" in _texts(fig)
    assert len(_visible(fig)) == 3  # our two panels + the empty reported one


def test_cost_curves_two_models_one_line_per_method_per_model(df):
    other = df[df["metric"].isin(["miou", "macs"])].assign(model="net_b", run_id=lambda d: d["run_id"] + "-b")
    fig = FIGURES.get("marin_cost_curves")(pd.concat([df, other], ignore_index=True))
    lines = _lines(_visible(fig)[0])
    assert set(lines) == {"uniform · net_b", "uniform · tiny_net", "edge based · net_b", "edge based · tiny_net"}
    assert lines["edge based · net_b"].get_color() == lines["edge based · tiny_net"].get_color()
    assert lines["edge based · net_b"].get_marker() != lines["edge based · tiny_net"].get_marker()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "model: net_b" in legend and "model: tiny_net" in legend


def test_cost_curves_without_target_rows_say_so(df):
    fig = FIGURES.get("marin_cost_curves")(df[df["metric"] != "miou_target"])
    assert "needs ok 'miou_target' rows" in " ".join(t.get_text() for t in _visible(fig)[1].texts)
    assert _lines(_visible(fig)[0])  # the mIoU panel still plots


# ---------------------------------------------------------------------------------------------- trimap


def test_trimap_two_smallest_resolutions_difference_to_uniform(df):
    fig = FIGURES.get("marin_trimap")(df)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == ["16×32", "32×64"]
    assert "synthcity" in fig._suptitle.get_text() and "Fig 13" in fig._suptitle.get_text()
    for ax, height in zip(axes, (16, 32)):
        lines = _lines(ax)
        assert set(lines) == {"edge based"}
        rows = df[(df["metric"] == "trimap_accuracy") & (df["height"] == height)]
        mean = rows.groupby(["method", "band_px"])["value"].mean()
        bands = sorted(rows["band_px"].unique())
        expected = [(mean[("edge_based", b)] - mean[("uniform", b)]) * 100 for b in bands]
        assert list(lines["edge based"].get_xdata()) == bands
        assert list(lines["edge based"].get_ydata()) == pytest.approx(expected)
    # Each panel has its own y-axis (no shared axis with per-panel limits), so each is labelled.
    assert axes[1].get_ylabel() == axes[0].get_ylabel() == "accuracy − uniform (pp)"


def test_trimap_one_resolution_and_no_uniform(df):
    one = df[df["height"].isin([64]) | df["metric"].ne("trimap_accuracy")]
    fig = FIGURES.get("marin_trimap")(one)
    assert len(_visible(fig)) == 1 and "64×128" in fig._suptitle.get_text()
    no_uniform = df[df["method"] != "uniform"]
    assert "no uniform rows" in _texts(FIGURES.get("marin_trimap")(no_uniform))


# ---------------------------------------------------------------------------------------------- recall by size


def test_recall_by_size_shows_recall_beside_the_ratio(df):
    fig = FIGURES.get("marin_recall_by_size")(df)
    titles = [ax.get_title() for ax in fig.axes]
    # Every resolution and every class, recall and ratio (B3: nothing dropped silently).
    for res in ("16×32", "32×64", "64×128"):
        for what in ("all objects", "car", "person"):
            assert f"{res} · {what}: recall" in titles and f"{res} · {what}: relative to uniform" in titles
    recall_ax = fig.axes[titles.index("16×32 · all objects: recall")]
    assert list(_lines(recall_ax)["uniform"].get_ydata()) == pytest.approx([u * 100 for u, _ in RECALL.values()])
    ratio_ax = fig.axes[titles.index("16×32 · all objects: relative to uniform")]
    assert not ratio_ax.patches  # markers, never bars from a baseline
    points = [l for l in ratio_ax.get_lines() if l.get_marker() == method_style("edge_based")["marker"]]
    assert list(points[0].get_ydata()) == pytest.approx([edge / uniform for uniform, edge in RECALL.values()])
    assert ratio_ax.get_ylim()[0] == 0.0
    handles = fig.legends[0].legend_handles
    colours = {h.get_label(): h.get_color() for h in handles}
    assert colours["edge based"] == method_color("edge_based")  # legend swatch = drawn colour


def test_recall_ratio_over_a_zero_baseline_is_not_drawn(df):
    zero = df.copy()
    mask = (zero["metric"] == "recall_by_size") & (zero["method"] == "uniform") & (zero["size_bin"] == "q1")
    zero.loc[mask, "value"] = 0.0
    skipped = (zero["metric"] == "recall_by_size") & (zero["size_bin"] == "q4") & (zero["class_name"] == "car")
    zero.loc[skipped, ["status", "reason", "value"]] = ["skipped", "no instance in this size bin", np.nan]
    fig = FIGURES.get("marin_recall_by_size")(zero)
    titles = [ax.get_title() for ax in fig.axes]
    ratio_ax = fig.axes[titles.index("16×32 · all objects: relative to uniform")]
    points = [l for l in ratio_ax.get_lines() if l.get_marker() == method_style("edge_based")["marker"]]
    assert 1 not in list(points[0].get_xdata())
    assert "uniform's recall is 0: q1" in _texts(fig)
    assert "too few objects (rows skipped): q4" in _texts(fig)


def test_sampling_points_drawn_over_the_stored_image_and_its_label_boundaries(df):
    fig = FIGURES.get("marin_sampling")(df)
    labels, image = disk_labels(), disk_image(disk_labels())
    boundary = boundary_map(labels)
    for ax in _visible(fig):
        photo, edges = sorted(ax.get_images(), key=lambda layer: layer.get_zorder())
        points = next(line for line in ax.get_lines() if line.get_marker() == "o")
        assert photo.get_zorder() < edges.get_zorder() < points.get_zorder()  # both layers under the points
        # the stored image, stretched over the label map's pixels (24 x 40: stored at full size)
        assert photo.get_extent() == [-0.5, 39.5, 23.5, -0.5]
        assert np.asarray(photo.get_array())[..., :3] == pytest.approx(image / 255.0)
        # the boundaries that attract the points are drawn, nothing else
        assert np.array_equal(np.asarray(edges.get_array())[..., 3] > 0, boundary)
        assert "not recorded" not in _texts(fig)
    without = df[~df["metric"].isin(["image_rgb", "label_boundary_pixel"])]
    bare = FIGURES.get("marin_sampling")(without)
    assert not bare.axes[0].get_images()
    assert "not recorded in the rows: image ('image_rgb')\nlabel boundaries ('label_boundary_pixel')" in _texts(bare)


def test_recall_by_size_without_rows_says_so(df):
    fig = FIGURES.get("marin_recall_by_size")(df[df["metric"] != "recall_by_size"])
    assert "no data" in _texts(fig)


# ---------------------------------------------------------------------------------------------- Fig 3


def test_sampling_points_rows_hold_every_point_per_lambda():
    labels = disk_labels()
    rows = sampling_points_from_labels(labels, (4, 6), identity=SAMPLING_IDENTITY, provenance=PROVENANCE)
    frame = to_frame(rows)
    assert (frame["unit"] == frame["metric"].map(METRICS)).all()
    assert frame.loc[frame["metric"] == "image_height", "value"].tolist() == [24]
    assert frame.loc[frame["metric"] == "image_width", "value"].tolist() == [40]
    assert "image_rgb" not in set(frame["metric"])  # no image given
    expected = sampling_for_lambdas(labels, (4, 6))
    assert sorted(frame["stage"].dropna().unique()) == ["lambda=0", "lambda=0.5", "lambda=1", "lambda=inf"]
    for lam, points in expected.items():
        for metric, column in (("sampling_point_row", 0), ("sampling_point_col", 1)):
            got = frame[(frame["metric"] == metric) & (frame["stage"] == lambda_stage(lam))]
            got = got.assign(i=got["size_bin"].astype(int)).sort_values("i")
            assert list(got["i"]) == list(range(24))
            assert got["value"].to_numpy() == pytest.approx(points[:, column])
    assert [lambda_stage(x) for x in (0, 0.5, 1.0, math.inf)] == ["lambda=0", "lambda=0.5", "lambda=1", "lambda=inf"]


def test_sampling_points_rows_from_a_generated_dataset(tmp_path):
    from benchmark.data import make_synthcity

    make_synthcity(tmp_path / "sc", {"val": 1}, (32, 64), seed=0)
    rows = sampling_points_rows("synthcity", tmp_path / "sc", "val", 0, size_lr=(3, 5), lams=(0, math.inf))
    frame = write_rows(tmp_path / "metrics.csv", rows)  # valid tidy rows (one per key: aggregate takes them)
    assert set(frame["run_id"]) == {"synthcity-sampling_points"} and set(frame["method"]) == {"edge_based"}
    counts = frame["metric"].value_counts()
    assert counts["sampling_point_row"] == counts["sampling_point_col"] == 2 * 15
    # the image and its boundaries at 32 x 64, under the layers' longest sides: stored at full size
    sizes = frame.set_index("metric")["value"]
    assert (sizes["image_rgb_height"], sizes["image_rgb_width"]) == (32, 64) and counts["image_rgb"] == 32 * 64
    assert (sizes["label_boundary_height"], sizes["label_boundary_width"]) == (32, 64)
    from benchmark.data import build_dataset

    sample = build_dataset("synthcity", tmp_path / "sc", "val")[0]
    expected = boundary_map(sample["labels"].numpy())
    assert counts["label_boundary_pixel"] == expected.sum()
    rgb = (sample["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.int64).reshape(-1, 3)
    stored = frame[frame["metric"] == "image_rgb"].assign(i=lambda f: f["size_bin"].astype(int)).sort_values("i")
    assert stored["value"].to_numpy() == pytest.approx(rgb @ np.array([65536, 256, 1]))  # the PNG's bytes
    uniform = frame[(frame["stage"] == "lambda=inf") & (frame["metric"] == "sampling_point_col")]
    assert sorted(set(np.round(uniform["value"], 9))) == pytest.approx([0, 15.75, 31.5, 47.25, 63])
    with pytest.raises(DsbenchError, match="out of range"):
        sampling_points_rows("synthcity", tmp_path / "sc", "val", 5)
    with pytest.raises(DsbenchError, match="size_lr"):
        sampling_points_from_labels(disk_labels(), (0, 4), identity=SAMPLING_IDENTITY)
    with pytest.raises(DsbenchError, match="unknown target class"):
        sampling_points_from_labels(disk_labels(), (2, 2), target_classes=["persn"], identity=SAMPLING_IDENTITY)


def test_thumbnail_size_shrinks_by_an_integer_factor_to_the_longest_side():
    assert thumbnail_size((256, 512), 128) == (64, 128)
    assert thumbnail_size((256, 512), 64) == (32, 64)
    assert thumbnail_size((1024, 2048), 128) == (64, 128)
    assert thumbnail_size((250, 500), 128) == (63, 125)  # factor 4, rounded up
    assert thumbnail_size((24, 40), 128) == (24, 40)


def test_sampling_rows_of_a_large_image_stay_few():
    labels = np.zeros((256, 512), np.uint8)
    labels[100:, :] = 1
    labels[40:60, 200:260] = 11
    image = disk_image(labels)
    frame = to_frame(sampling_points_from_labels(labels, (8, 16), identity=SAMPLING_IDENTITY, image=image))
    counts = frame["metric"].value_counts()
    assert counts["image_rgb"] == 32 * 64
    assert counts["label_boundary_pixel"] < 64 * 128 / 4
    with pytest.raises(DsbenchError, match="uint8 RGB"):
        sampling_points_from_labels(labels, (8, 16), identity=SAMPLING_IDENTITY, image=image[:128])


def test_sampling_figure_one_panel_per_lambda_with_the_stored_points(df):
    fig = FIGURES.get("marin_sampling")(df)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == ["λ = 0", "λ = 0.5", "λ = 1", "λ = +∞ (uniform)"]
    assert "4×6 points" in fig._suptitle.get_text()
    expected = sampling_for_lambdas(disk_labels(), (4, 6))
    for ax, lam in zip(axes, (0.0, 0.5, 1.0, math.inf)):
        points = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert len(points) == 1
        assert np.asarray(points[0].get_ydata()) == pytest.approx(expected[lam][:, 0])
        assert np.asarray(points[0].get_xdata()) == pytest.approx(expected[lam][:, 1])
        assert len(ax.get_lines()) == 1 + 4 + 6  # points + one line per grid row and column
        assert ax.get_ylim()[0] > ax.get_ylim()[1]  # rows grow downwards, as in an image
        assert ax.get_xlabel() == "column (px)" and ax.get_ylabel() == "row (px)"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["sampling point", "grid neighbours",
                                                                         "label boundary"]


# ---------------------------------------------------------------------------------------------- table


def test_table_rows_per_resolution_and_method_with_differences(df):
    table = FIGURES.get("table_marin")(df)
    lines = [line for line in table["markdown"].splitlines() if line.startswith("| ")]
    assert lines[0] == "| resolution | method | GMACs | mIoU (%) | Δ (pp) | target mIoU (%) | Δ (pp) |"
    cells = [line[2:-2].split(" | ") for line in lines[2:]]
    expected = [(f"{h}×{w}", m) for h, w in RESOLUTIONS for m in ("uniform", "edge_based")]
    assert [(c[0], c[1]) for c in cells] == expected
    miou = df[df["metric"] == "miou"].groupby(["method", "height"])["value"].mean()
    for row in cells:
        height = int(row[0].split("×")[0])
        if row[1] == "uniform":
            assert row[4] == "–" and row[6] == "–"
        else:
            delta = (miou[("edge_based", height)] - miou[("uniform", height)]) * 100
            assert row[4] == f"{delta:+.1f}" and row[6] == f"{delta:+.1f}"  # target = miou - 0.1 for all
        assert "±" in row[3]  # two seeds
    assert r"$\Delta$" in table["latex"] and "Δ" not in table["latex"].split("\n", 1)[1]
    assert r"edge\_based" in table["latex"] and "deformation" not in table["markdown"]


def test_table_marks_skipped_cells_and_empty_input():
    rows = synthetic_rows(methods=("uniform",), resolutions=((16, 32),), seeds=(0,))
    identity = run_identity("edge_based", run_id="s", dataset="synthcity", split="val", model="tiny_net",
                            height=16, width=32, seed=0)
    rows.append(synthetic_row(identity, "miou", None, status="skipped", reason="no aux checkpoint"))
    md = FIGURES.get("table_marin")(rows_frame(rows))["markdown"]
    assert "| 16×32 | edge_based | – | skipped | – | – | – |" in md
    empty = FIGURES.get("table_marin")(rows_frame([synthetic_row(identity, "latency_ms", 1.0)]))
    assert "No data" in empty["markdown"]


# ---------------------------------------------------------------------------------------------- all


def test_every_marin_output_is_registered_and_handles_missing_rows():
    identity = {"run_id": "r", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "m",
                "height": 8, "width": 16, "seed": 0}
    nothing = to_frame([make_row(identity, "latency_ms", 3.0, "ms")])
    for key in MARIN_IDS:
        result = FIGURES.get(key)(nothing)
        if isinstance(result, Figure):
            assert "no data" in _texts(result), key
            assert result._suptitle.get_text().startswith("Marin et al. 2019"), key
        else:
            assert "No data" in result["markdown"], key


def test_cost_curves_say_when_target_classes_were_never_learned(df):
    # B7: a target-class mIoU of 0 for every method is a note, not a flat curve.
    zero = df.copy()
    zero.loc[zero["metric"] == "miou_target", "value"] = 0.0
    fig = FIGURES.get("marin_cost_curves")(zero)
    target = next(ax for ax in fig.axes if ax.get_title().endswith("target classes"))
    assert not [l for l in target.get_lines() if not l.get_label().startswith("_")]
    assert "never learned" in " ".join(t.get_text() for t in target.texts)
