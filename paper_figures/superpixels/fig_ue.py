"""Undersegmentation error (Neubert-Protzel, as the superpixel benchmark reports it) against the
measured superpixel count: the leakage Suzuki's Fig 10 shows, as a curve."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.superpixels.shared import count_curve_figure


@FIGURES.register("superpixel_ue")
def make(df: pd.DataFrame) -> Figure:
    return count_curve_figure(df, "undersegmentation_error", "Superpixels: UE vs. count",
                              "undersegmentation error (%)")
