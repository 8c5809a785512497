"""paper_figures: every registered figure/table builds from stored rows alone."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import paper_figures
from benchmark.errors import DsbenchError
from benchmark.registry import FIGURES
from benchmark.results import make_row, read_rows, to_frame, write_rows
from paper_figures.build import build_all
from paper_figures.style.palette import method_color
from paper_figures.synthetic import rows_frame, synthetic_rows

ROOT = Path(__file__).resolve().parents[3]
EXPECTED = {"cost_curves", "cost_fraction", "trimap", "table_results"}


@pytest.fixture(scope="module")
def sweep_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "metrics.csv"
    write_rows(path, synthetic_rows())
    return path


@pytest.fixture(scope="module")
def uniform_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "metrics.csv"
    write_rows(path, synthetic_rows(methods=("uniform",), seeds=(0,)))
    return path


# The rows as read_rows gives them once the schema has the track / params identity columns.
FRAMES = {"sweep_csv": lambda: rows_frame(synthetic_rows()),
          "uniform_csv": lambda: rows_frame(synthetic_rows(methods=("uniform",), seeds=(0,)))}


def _figures(df):
    return {key: FIGURES.get(key)(df) for key in FIGURES.keys()}


def test_importing_the_package_registers_every_output():
    assert EXPECTED <= set(FIGURES.keys())
    assert paper_figures.FIGURES is FIGURES


@pytest.mark.parametrize("which", ["sweep_csv", pytest.param("uniform_csv", marks=pytest.mark.slow)])
def test_every_output_builds_files(request, tmp_path, which):
    written = build_all(request.getfixturevalue(which), tmp_path)
    names = {p.name for p in written}
    for key in paper_figures.figure_ids():  # the default set; experiment figures are built by their experiment
        result_is_table = key.startswith("table_")
        expected = {f"{key}.md", f"{key}.tex"} if result_is_table else {f"{key}.png", f"{key}.pdf"}
        assert expected <= names, key
    for path in written:
        assert path.stat().st_size > 0
    assert (tmp_path / "cost_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cost_curves.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".*"))  # no temporary files left


def test_rebuilding_gives_identical_pdfs(tmp_path, sweep_csv):
    build_all(sweep_csv, tmp_path / "a", only="trimap")
    build_all(sweep_csv, tmp_path / "b", only=["trimap"])
    assert (tmp_path / "a" / "trimap.pdf").read_bytes() == (tmp_path / "b" / "trimap.pdf").read_bytes()


def test_only_unknown_id_is_a_clear_error(tmp_path, sweep_csv):
    with pytest.raises(DsbenchError, match="unknown figure 'cost_curve'; did you mean cost_curves"):
        build_all(sweep_csv, tmp_path, only=["cost_curve"])
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def _check_labelled(fig: Figure, key: str) -> None:
    assert fig._suptitle is not None and fig._suptitle.get_text(), key
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert visible, key
    for ax in visible:
        assert ax.get_xlabel(), key
    assert any(ax.get_ylabel() for ax in visible), key
    assert all("(" in ax.get_xlabel() for ax in visible), f"{key}: x label needs a unit"
    assert fig.legends or any(ax.get_legend() for ax in visible), f"{key}: no legend"


@pytest.mark.parametrize("which", ["sweep_csv", "uniform_csv"])
def test_figures_have_title_labels_and_legend(request, which):
    for key, result in _figures(FRAMES[which]()).items():
        if isinstance(result, Figure):
            _check_labelled(result, key)


def _line_colors(fig: Figure):
    colors = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                colors.setdefault(line.get_label(), set()).add(line.get_color())
    for legend in fig.legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            colors.setdefault(text.get_text(), set()).add(handle.get_color())
    return colors


def test_method_colours_are_identical_across_figures(sweep_csv):
    figures = {k: v for k, v in _figures(rows_frame(synthetic_rows())).items() if isinstance(v, Figure)}
    seen = {}
    for key, fig in figures.items():
        for label, colors in _line_colors(fig).items():
            seen.setdefault(label, set()).update(colors)
    for method in ("uniform", "edge_based", "deformation"):
        label = method.replace("_", " ")
        assert seen[label] == {method_color(method)}, (method, seen[label])


def test_cost_curves_plot_gmacs_and_percent(sweep_csv):
    df = rows_frame(synthetic_rows())
    fig = FIGURES.get("cost_curves")(df)
    ax = fig.axes[0]
    line = next(l for l in ax.get_lines() if l.get_label() == "uniform")
    total = df[(df["metric"] == "macs") & (df["stage"] == "total") & (df["method"] == "uniform")]
    expected_x = sorted(total.groupby("height")["value"].mean() / 1e9)
    miou = df[(df["metric"] == "miou") & (df["method"] == "uniform")].groupby("height")["value"].mean() * 100
    assert list(line.get_xdata()) == pytest.approx(expected_x)
    assert list(line.get_ydata()) == pytest.approx(list(miou.sort_index()))


def test_trimap_is_the_difference_to_uniform(sweep_csv):
    df = rows_frame(synthetic_rows())
    fig = FIGURES.get("trimap")(df)
    ax = fig.axes[0]  # the lowest resolution
    line = next(l for l in ax.get_lines() if l.get_label() == "edge based")
    rows = df[(df["metric"] == "trimap_accuracy") & (df["height"] == 32)]
    mean = rows.groupby(["method", "band_px"])["value"].mean()
    expected = [(mean[("edge_based", b)] - mean[("uniform", b)]) * 100 for b in sorted(rows["band_px"].unique())]
    assert list(line.get_xdata()) == sorted(rows["band_px"].unique())
    assert list(line.get_ydata()) == pytest.approx(expected)


def test_empty_panels_say_so_instead_of_failing():
    identity = {"run_id": "r", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "m",
                "height": 8, "width": 16, "seed": 0}
    df = to_frame([make_row(identity, "latency_ms", 3.0, "ms")])
    for key, result in _figures(df).items():
        if isinstance(result, Figure):
            texts = [t.get_text() for ax in result.axes for t in ax.texts]
            assert any("no data" in t for t in texts), key
        else:
            assert "No data" in result["markdown"]


def test_table_lists_methods_in_order_with_seed_spread(sweep_csv):
    table = FIGURES.get("table_results")(rows_frame(synthetic_rows()))
    md = table["markdown"]
    lines = [l for l in md.splitlines() if l.startswith("| ")]
    assert lines[0].startswith("| method | 32×64 mIoU | 32×64 GMACs | 64×128 mIoU")
    assert [l.split(" | ")[0][2:] for l in lines[2:]] == ["uniform", "edge_based", "deformation"]
    assert "±" in md  # two seeds
    assert r"\begin{tabular}" in table["latex"] and r"edge\_based" in table["latex"]
    assert table["latex"].count(r" \\") == 5  # spanning resolution row, header row, 3 methods


def test_table_marks_skipped_cells(tmp_path):
    rows = synthetic_rows(methods=("uniform",), resolutions=((32, 64),), seeds=(0,))
    identity = {"run_id": "s", "dataset": "synthcity", "split": "val", "method": "edge_based", "model": "tiny_net",
                "height": 32, "width": 64, "seed": 0}
    rows.append(make_row(identity, "miou", None, "fraction", status="skipped", reason="needs a GPU"))
    write_rows(tmp_path / "m.csv", rows)
    md = FIGURES.get("table_results")(read_rows(tmp_path / "m.csv"))["markdown"]
    assert "| edge_based | skipped | – |" in md


def test_two_figures_with_one_id_raise():
    with pytest.raises(ValueError, match="registered twice"):
        FIGURES.register("cost_curves")(lambda df: None)


def test_building_every_figure_never_imports_torch(tmp_path, sweep_csv):
    code = textwrap.dedent(f"""
        import sys
        import paper_figures.build
        paper_figures.build.build_all({str(sweep_csv)!r}, {str(tmp_path)!r})
        import benchmark.aggregate, benchmark.regress
        heavy = sorted(m for m in ("torch", "timm", "methods", "benchmark.ops.sampling") if m in sys.modules)
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _labelled_lines(ax):
    return [line for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_one_panel_per_dataset_and_model_and_a_panel_without_costs_says_so():
    rows = synthetic_rows(model="net_a") + [r for r in synthetic_rows(model="net_b", run_prefix="b")
                                            if r["metric"] not in ("macs", "flops")]
    df = to_frame(rows)
    fig = FIGURES.get("cost_curves")(df)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["net_a", "net_b"]
    assert "synthcity" in fig._suptitle.get_text()
    assert len(_labelled_lines(visible[0])) == 3 and not visible[0].texts
    assert any("no matching 'macs' (stage=total)" in t.get_text() for t in visible[1].texts)
    # cost_fraction has both panels filled; trimap has 2 models x 3 resolutions.
    assert all(len(_labelled_lines(ax)) == 3 for ax in FIGURES.get("cost_fraction")(df).axes if ax.get_visible())
    assert sum(ax.get_visible() for ax in FIGURES.get("trimap")(df).axes) == 6


def test_trimap_panel_without_uniform_says_so():
    df = to_frame(synthetic_rows(methods=("edge_based",), resolutions=((32, 64),), seeds=(0,)))
    fig = FIGURES.get("trimap")(df)
    assert any("no uniform rows" in t.get_text() for t in fig.axes[0].texts)


def test_ids_must_match_the_output_kind(tmp_path, sweep_csv, monkeypatch):
    # Workflows derive file names from the id: a table_* id must return a table, others a Figure.
    entries = dict(FIGURES._entries)
    monkeypatch.setattr(FIGURES, "_entries", {**entries, "table_wrong": FIGURES.get("cost_curves")})
    with pytest.raises(DsbenchError, match="'table_wrong'"):
        build_all(sweep_csv, tmp_path, only="table_wrong")
