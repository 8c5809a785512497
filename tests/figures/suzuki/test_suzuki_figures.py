"""Suzuki 2021 figures and tables (suzuki_*, table_suzuki_*) from synthetic rows holding exactly the metrics they read."""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import pytest
from matplotlib.figure import Figure

import paper_figures
from benchmark.registry import FIGURES
from paper_figures.suzuki.fig_clusters import cell_maps
from paper_figures.suzuki.shared import architectures
from paper_figures.synthetic import row, rows_frame, run_identity

SIZE = (256, 512)
LEVEL_MIOU = {0: 0.30, 1: 0.34, 2: 0.37, 3: 0.38, 4: 0.39}
THIN = ["pole", "traffic light", "person"]


def _identity(label: str, model: str, method: str, seed: int = 0, **options: object) -> Dict[str, object]:
    return run_identity(label, (method, options, {}), run_id=f"suzuki-{label}-{model}-s{seed}", dataset="synthcity",
                        split="val", model=model, height=SIZE[0], width=SIZE[1], seed=seed)


def suzuki_rows(seeds=(0, 1)) -> List[dict]:
    """miou, pixel_accuracy, latency_ms and per-class iou of the suzuki_hc and suzuki_table1 runs,
    and the cluster map of one HC run."""
    runs = [(f"hcfcn32_levels{lv}", "fcn32", "hierarchical_clustering", {"levels": lv}, miou, 50.0 + 5 * lv)
            for lv, miou in LEVEL_MIOU.items()]
    runs += [(f"hcfcn32_branch{b}", "fcn32", "hierarchical_clustering", {"branch": b}, 0.33 + 0.01 * i, 60.0)
             for i, b in enumerate(["identity", "residual"])]
    runs += [("atrous_fcn", "atrous_fcn", "uniform", {}, 0.36, 200.0), ("pspnet", "pspnet", "uniform", {}, 0.40, 220.0),
             ("hcpspnet", "pspnet", "hierarchical_clustering", {}, 0.39, 70.0),
             ("deeplabv3", "deeplabv3", "uniform", {}, 0.41, 250.0),
             ("hcdeeplabv3", "deeplabv3", "hierarchical_clustering", {}, 0.40, 75.0)]
    rows: List[dict] = []
    for label, model, method, options, miou, ms in runs:
        for seed in seeds:
            identity = _identity(label, model, method, seed, **options)
            rows.append(row(identity, "miou", miou + 0.002 * seed))
            rows.append(row(identity, "pixel_accuracy", 0.8 + miou / 10))
            rows.append(row(identity, "latency_ms", ms))
            for c, name in enumerate(THIN):
                # pole never learned by anyone: the figure must say so instead of drawing zeros
                rows.append(row(identity, "iou", 0.0 if name == "pole" else miou / (c + 1), class_name=name))
    identity = _identity("hcfcn32_levels2", "fcn32", "hierarchical_clustering", 0, levels=2)
    # 4x8 cells, 2x2 cells per cluster: edges right of columns 1, 3, 5 in every row, below row 1 in every column
    for r in range(4):
        for c in (1, 3, 5):
            rows.append(row(identity, "cluster_boundary", r * 8 + c, stage="cells=4x8,right", size_bin=str(r * 8 + c)))
    for c in range(8):
        rows.append(row(identity, "cluster_boundary", 1 * 8 + c, stage="cells=4x8,down", size_bin=str(8 + c)))
    rows.append(row(identity, "label_boundary", 1 * 8 + 0, stage="cells=4x8,down", size_bin="8"))
    return rows


SUZUKI_IDS = ["suzuki_levels", "suzuki_speed", "suzuki_class_iou", "suzuki_clusters", "table_suzuki_models",
              "table_suzuki_table1"]


def test_suzuki_outputs_are_default_figures_except_table1():
    # The suzuki_hc runs are part of the default run; Table 1's branches are their own experiment.
    assert set(paper_figures.figure_ids()) & set(SUZUKI_IDS) == set(SUZUKI_IDS) - {"table_suzuki_table1"}
    assert paper_figures.EXPERIMENT_OF["table_suzuki_table1"] == "suzuki_table1"


@pytest.mark.parametrize("key", [k for k in SUZUKI_IDS if not k.startswith("table_")])
def test_figures_are_titled_labelled_with_a_legend(key):
    fig = FIGURES.get(key)(rows_frame(suzuki_rows()))
    assert isinstance(fig, Figure) and fig._suptitle is not None and "Suzuki" in fig._suptitle.get_text()
    assert fig.legends
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize("key", SUZUKI_IDS)
def test_outputs_without_rows_say_so(key):
    result = FIGURES.get(key)(rows_frame([]))
    text = result["markdown"] if isinstance(result, dict) else " ".join(t.get_text() for ax in result.axes for t in ax.texts)
    assert ("No data" if isinstance(result, dict) else "no data") in text  # the suite's wording for each kind


def test_runs_are_named_by_params_and_model_not_by_label():
    rows = architectures(rows_frame(suzuki_rows(seeds=(0,))), "miou")
    names = dict(zip(rows["method"], rows["architecture"]))
    assert names["hcfcn32_levels0"] == "FCN-32" and names["hcfcn32_levels3"] == "HCFCN-32"
    assert names["atrous_fcn"] == "AtrousFCN" and names["hcpspnet"] == "HCPSPNet" and names["deeplabv3"] == "DeepLabv3"


def test_levels_figure_draws_hcfcn32_by_level_and_atrous_as_a_line():
    fig = FIGURES.get("suzuki_levels")(rows_frame(suzuki_rows()))
    ax = fig.axes[0]
    line = ax.lines[0]
    assert list(line.get_xdata()) == [0, 1, 2, 3, 4]
    assert np.allclose(line.get_ydata(), [100 * (m + 0.001) for m in LEVEL_MIOU.values()])
    assert any(np.allclose(l.get_ydata(), 36.1) for l in ax.lines[1:])  # AtrousFCN reference, mean over seeds


def test_speed_is_images_per_second_from_latency():
    ax = FIGURES.get("suzuki_speed")(rows_frame(suzuki_rows())).axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), [1000.0 / (50.0 + 5 * lv) for lv in LEVEL_MIOU])


def test_class_iou_marks_classes_no_model_learned():
    fig = FIGURES.get("suzuki_class_iou")(rows_frame(suzuki_rows()))
    ours, reported = fig.axes
    assert [t.get_text() for t in ours.get_xticklabels()] == THIN
    assert [t.get_text() for t in ours.texts] == ["not\nlearned"]
    assert reported.get_title().startswith("reported") and reported.patches


def test_models_table_lists_the_paper_models_at_level_2_with_reported_section():
    md = FIGURES.get("table_suzuki_models")(rows_frame(suzuki_rows()))["markdown"]
    ours = md.split("### reported")[0]
    for name, cell in [("FCN-32", "30.1 ± 0.1"), ("AtrousFCN", "36.1 ± 0.1"), ("HCFCN-32", "37.1 ± 0.1"),
                       ("PSPNet", "40.1 ± 0.1"), ("HCPSPNet", "39.1 ± 0.1")]:
        assert f"| {name} | {cell} |" in ours
    assert ours.index("| FCN-32 |") < ours.index("| AtrousFCN |") < ours.index("| HCFCN-32 |") < ours.index("| PSPNet |")
    assert "| HCFCN-32 | 76.0 | 96.1 | 85.9 |" in md  # reported Table 3


def test_table1_lists_the_branches_and_the_deeplab_pair():
    md = FIGURES.get("table_suzuki_table1")(rows_frame(suzuki_rows()))["markdown"]
    for branch, cell in [("identity", "33.1 ± 0.1"), ("residual", "34.1 ± 0.1"), ("block", "37.1 ± 0.1")]:
        assert f"| {branch} | {cell} |" in md
    assert "| identity | 71.2 | 72.3 |" in md  # reported, ResNet-18 and ResNet-50
    assert "| DeepLabv3 | 41.1 ± 0.1 |" in md and "| HCDeepLabv3 | 40.1 ± 0.1 |" in md


def test_cluster_edges_are_read_back_from_rows_as_cell_edge_segments():
    (title, levels, size, cluster_edges, label_edges), = cell_maps(rows_frame(suzuki_rows()))
    assert levels == 2 and size == (4, 8) and title[-1] == "HCFCN-32, level 2"
    assert len(cluster_edges) == 3 * 4 + 8 and len(label_edges) == 1
    assert ((1.5, 1.5), (-0.5, 0.5)) in cluster_edges  # right of cell (0, 1)
    assert label_edges == [((-0.5, 0.5), (1.5, 1.5))]  # below cell (1, 0)
    fig = FIGURES.get("suzuki_clusters")(rows_frame(suzuki_rows()))
    assert [len(c.get_segments()) for c in fig.axes[0].collections] == [1, 20]
