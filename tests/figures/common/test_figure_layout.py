"""What a reviewer checks in every default figure: legend inside the figure, no placeholder
panels, and the architecture rule (a figure imports style, rows and its paper's shared module)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import paper_figures
from benchmark.registry import FIGURES
from paper_figures.synthetic import rows_frame, synthetic_rows

PACKAGE = Path(paper_figures.__file__).resolve().parent
ALLOWED = {"paper_figures.rows", "paper_figures.reported", "paper_figures.style.palette",
           "paper_figures.style.panels", "paper_figures.style.tables"}
# Every label of the default config, so legends are as long as they get in the ci figures.
DEFAULT_LABELS = ("uniform", "edge_based", "deformation", "deformation_single", "interpolation", "edge_sim_r1",
                  "edge_sim_r2", "soft_labels", "soft_labels_mc_off")
VARIANTS = {"edge_sim_r1": ("edge_sim", {"radius": 1.0}, {}), "edge_sim_r2": ("edge_sim", {"radius": 2.0}, {}),
            "soft_labels_mc_off": ("soft_labels", {"mc": False}, {})}


@pytest.fixture(scope="module")
def default_figures():
    df = rows_frame(synthetic_rows(methods=DEFAULT_LABELS, resolutions=((16, 32), (32, 64)), seeds=(0,),
                                   variants=VARIANTS))
    return {key: FIGURES.get(key)(df) for key in paper_figures.figure_ids()}


def test_legends_lie_inside_the_figure(default_figures):
    # B2: cost_curves' one-column legend ran off both sides of the PNG and PDF.
    for key, fig in default_figures.items():
        if not isinstance(fig, Figure):
            continue
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        box = fig.bbox
        for legend in fig.legends:
            extent = legend.get_window_extent(canvas.get_renderer())
            assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, key
            assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, key


def test_cost_curves_give_every_method_its_own_colour_and_marker(default_figures):
    for key in ("cost_curves", "cost_fraction"):
        lines = [l for ax in default_figures[key].axes for l in ax.get_lines() if not l.get_label().startswith("_")]
        styles = {(l.get_color(), l.get_marker()) for l in lines}
        assert len(lines) == len(DEFAULT_LABELS) and len(styles) == len(lines), key


def test_default_figures_have_no_placeholder_experiment_figures():
    # B4: alcover_batch / alcover_samplers were empty placeholders among the default figures.
    assert not {"alcover_batch", "alcover_samplers"} & set(paper_figures.figure_ids())
    assert "alcover_batch" in paper_figures.figure_ids("alcover_fig7_batch")
    assert "alcover_samplers" in paper_figures.figure_ids("alcover_table4_samplers")
    assert "alcover_batch" not in paper_figures.figure_ids("alcover_table4_samplers")


def test_no_unused_grid_cell_is_left_as_an_empty_axes(default_figures):
    for key, fig in default_figures.items():
        if isinstance(fig, Figure):
            assert all(ax.get_visible() for ax in fig.axes), key


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


@pytest.mark.parametrize("path", sorted(p for sub in paper_figures.SUBPACKAGES for p in (PACKAGE / sub).glob("*.py")
                                        if p.name.startswith(("fig_", "table_", "shared"))), ids=lambda p: p.stem)
def test_outputs_import_only_style_rows_and_their_papers_shared_module(path):
    own = f"paper_figures.{path.parent.name}.shared"
    for module in _imports(path):
        if module.startswith("paper_figures"):
            assert module in ALLOWED | {own}, f"{path.relative_to(PACKAGE)} imports {module}"
        assert not module.startswith(("torch", "methods")), f"{path.relative_to(PACKAGE)} imports {module}"


def test_every_figure_has_its_own_report_caption():
    captions = PACKAGE.parent / "workflows" / "report" / "captions"
    texts = {}
    for key in FIGURES.keys():
        caption = captions / f"{key}.rst"
        assert caption.is_file(), key
        texts[key] = caption.read_text()
        assert "snakemake.output" not in texts[key], key
    assert len(set(texts.values())) == len(texts)  # B8: no shared generic text
    assert not set(p.stem for p in captions.glob("*.rst")) - set(FIGURES.keys())
