"""Cost curves (Marin et al. Figs 8-11): mIoU (%) against GMACs (stage total), per resolution."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.common.shared import miou_vs_cost_figure


@FIGURES.register("cost_curves")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split; one line per method through its resolutions."""
    return miou_vs_cost_figure(df, title="Accuracy vs. cost", cost_metric="macs", stage="total",
                               scale=1e-9, xlabel="GMACs per image (log scale)")
