"""Achievable segmentation accuracy against the measured superpixel count (Suzuki Fig 8)."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.superpixels.shared import count_curve_figure


@FIGURES.register("superpixel_asa")
def make(df: pd.DataFrame) -> Figure:
    return count_curve_figure(df, "asa", "Superpixels: ASA vs. count (Suzuki Fig 8)",
                              "ASA (%)")
