"""Boundary precision against boundary recall (Wang et al. PCNet Figs 6-7): one line per superpixel
method through its requested counts, each point labelled with its measured count."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.superpixels.shared import br_bp_figure


@FIGURES.register("superpixel_br_bp")
def make(df: pd.DataFrame) -> Figure:
    return br_bp_figure(df, "Superpixels: BP vs. BR (PCNet Figs 6-7)")
