"""Suzuki Fig 6: inference speed of HCFCN-32 against the hierarchy level, AtrousFCN as a reference.

Images per second = 1000 / ``latency_ms`` (the cost step's median per-image latency after
warm-up, batch 1, at the run's input size, on the machine the row names). The paper reports
fps over 100 trials of a 1024x2048 input on a GPU, as a plot only (no reported panel).
Reads rows: latency_ms.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.suzuki.shared import levels_figure

# Two lines: the title must fit a one-column figure (a single panel).
TITLE = "Suzuki 2021, Fig 6:\ninference speed by hierarchy level (HCFCN-32)"
YLABEL = "inference speed (images/s)"


@FIGURES.register("suzuki_speed")
def make(df: pd.DataFrame) -> Figure:
    return levels_figure(df, "latency_ms", lambda ms: 1000.0 / ms, TITLE, YLABEL,
                         "ok 'latency_ms' rows (cost) of hierarchical_clustering runs on fcn32")
