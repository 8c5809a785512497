"""Every method: mIoU (%) against the fraction of high-resolution pixels sampled (%), as Jin et al. Fig 9a."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.common.shared import miou_vs_cost_figure


@FIGURES.register("cost_fraction")
def make(df: pd.DataFrame) -> Figure:
    """One panel per dataset × model × split; one line per method through its resolutions."""
    return miou_vs_cost_figure(df, title="Accuracy vs. pixels sampled", cost_metric="fraction_pixels_sampled",
                               scale=100.0, xlabel="pixels sampled (% of original, log scale)")
