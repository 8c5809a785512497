"""The superpixels track's figures, from stored rows alone: titled, labelled with units, the legend
inside the figure, one line per method at the measured count, BR-BP points labelled with it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import paper_figures  # noqa: F401  registers every figure
from benchmark.registry import FIGURES
from benchmark.results import make_row, to_frame, write_rows
from paper_figures.build import build_all
from paper_figures.style.palette import method_style
from paper_figures.synthetic import rows_frame, synthetic_rows

ROOT = Path(__file__).resolve().parents[2]
IDS = ("superpixel_br_bp", "superpixel_asa", "superpixel_br", "superpixel_ue")
REQUESTED = (100, 200, 400)
# method -> measured count per request (SLIC overshoots, SEEDS undershoots, as on BSDS500)
MEASURED = {"slic": (140.0, 290.0, 577.0), "seeds": (70.0, 140.0, 270.0), "lsc": (105.0, 210.0, 418.0)}


def superpixel_rows():
    rows = []
    for m_index, (method, measured) in enumerate(MEASURED.items()):
        identity = {"run_id": f"bsds500-{method}-test", "dataset": "bsds500", "split": "test",
                    "track": "superpixels", "method": method,
                    "params": json.dumps({"method": method, "options": {}}), "model": ""}
        for k, (n, count) in enumerate(zip(REQUESTED, measured)):
            values = {"boundary_recall": 0.6 + 0.1 * k + 0.01 * m_index, "boundary_precision": 0.2 - 0.03 * k,
                      "asa": 0.9 + 0.02 * k, "undersegmentation_error": 0.15 - 0.03 * k,
                      "measured_superpixels": count}
            rows += [make_row(identity, metric, value, n_superpixels=n) for metric, value in values.items()]
    return rows


@pytest.fixture(scope="module")
def figures():
    df = to_frame(superpixel_rows() + synthetic_rows(seeds=(0,)))  # other tracks' rows are left out
    return {key: FIGURES.get(key)(df) for key in IDS}


def labelled_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_the_figures_are_default_figures():
    assert set(IDS) <= set(paper_figures.figure_ids())


@pytest.mark.parametrize("key", IDS)
def test_titled_labelled_with_units_and_the_legend_inside(figures, key):
    fig = figures[key]
    assert fig._suptitle is not None and "Superpixels" in fig._suptitle.get_text()
    (ax,) = fig.axes  # one dataset x split: one panel
    assert ax.get_title() == "" and "bsds500 · test" in fig._suptitle.get_text()
    assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    (legend,) = fig.legends
    extent = legend.get_window_extent(canvas.get_renderer())
    assert fig.bbox.x0 - 1 <= extent.x0 and extent.x1 <= fig.bbox.x1 + 1
    assert fig.bbox.y0 - 1 <= extent.y0 and extent.y1 <= fig.bbox.y1 + 1
    assert {t.get_text() for t in legend.get_texts()} >= set(MEASURED)


@pytest.mark.parametrize("key", IDS)
def test_one_line_per_method_in_its_own_colour_and_marker(figures, key):
    lines = labelled_lines(figures[key].axes[0])
    assert sorted(line.get_label() for line in lines) == sorted(MEASURED)
    for line in lines:
        style = method_style(line.get_label())
        assert (line.get_color(), line.get_marker()) == (style["color"], style["marker"])
    assert len({(line.get_color(), line.get_marker()) for line in lines}) == len(lines)


@pytest.mark.parametrize("key,metric", [("superpixel_asa", "asa"), ("superpixel_br", "boundary_recall"),
                                        ("superpixel_ue", "undersegmentation_error")])
def test_count_curves_are_drawn_at_the_measured_count_in_percent(figures, key, metric):
    rows = to_frame(superpixel_rows())
    line = next(l for l in labelled_lines(figures[key].axes[0]) if l.get_label() == "slic")
    assert list(line.get_xdata()) == list(MEASURED["slic"])  # never the requested 100, 200, 400
    expected = rows[(rows["method"] == "slic") & (rows["metric"] == metric)].sort_values("n_superpixels")
    assert list(line.get_ydata()) == pytest.approx(list(expected["value"] * 100))
    assert figures[key].axes[0].get_xlabel() == "measured superpixels per image (count)"


def test_br_bp_points_are_labelled_with_their_measured_count(figures):
    ax = figures["superpixel_br_bp"].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("boundary recall (%)", "boundary precision (%)")
    labels = sorted(t.get_text() for t in ax.texts if t.get_gid() == "measured_count")
    assert labels == sorted(f"{c:.0f}" for counts in MEASURED.values() for c in counts)
    line = next(l for l in labelled_lines(ax) if l.get_label() == "seeds")
    assert list(line.get_xdata()) == pytest.approx([61.0, 71.0, 81.0])  # BR (%) in order of measured count
    assert list(line.get_ydata()) == pytest.approx([20.0, 17.0, 14.0])


@pytest.mark.parametrize("key", IDS)
def test_without_superpixel_rows_the_panel_says_what_is_missing(key):
    fig = FIGURES.get(key)(rows_frame(synthetic_rows(seeds=(0,))))
    (ax,) = fig.axes
    texts = [t.get_text() for t in ax.texts]
    assert any("no data" in t and "measured_superpixels" in t for t in texts), texts
    assert fig.legends and fig._suptitle.get_text() and "(" in ax.get_xlabel()


def test_dsbench_figures_builds_them_from_stored_rows_without_torch(tmp_path):
    metrics = tmp_path / "metrics.csv"
    write_rows(metrics, superpixel_rows())
    code = textwrap.dedent(f"""
        import sys
        from benchmark.cli import main
        assert main(["figures", "--metrics", {str(metrics)!r}, "--out", {str(tmp_path / 'fig')!r},
                     "--only", *{list(IDS)!r}]) == 0
        heavy = sorted(m for m in ("torch", "methods") if m in sys.modules)
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == sorted(f"{k}{s}" for k in IDS
                                                                         for s in (".pdf", ".png"))


def test_build_all_writes_the_figures_when_rows_exist(tmp_path):
    metrics = tmp_path / "metrics.csv"
    write_rows(metrics, superpixel_rows())
    written = build_all(metrics, tmp_path / "fig", only=list(IDS))
    assert all(p.stat().st_size > 0 for p in written) and len(written) == 2 * len(IDS)
