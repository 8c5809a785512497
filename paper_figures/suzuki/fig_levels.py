"""Suzuki Fig 5: mIoU of HCFCN-32 against the hierarchy level, AtrousFCN as a reference line.

Level ``L`` clusters the last ``L`` downsampling layers of the ResNet (conv5_x first); level 0 is
FCN-32. Block sampling branch (the paper's default). AtrousFCN (the last two stages dilated,
output stride 8) is the dashed line. The paper gives Fig 5 as a plot only (no numbers to
transcribe), so there is no reported panel. Reads rows: miou.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from benchmark.registry import FIGURES
from paper_figures.suzuki.shared import levels_figure

# Two lines: the title must fit a one-column figure (a single panel).
TITLE = "Suzuki 2021, Fig 5:\nmIoU by hierarchy level (HCFCN-32)"
YLABEL = "mIoU (%)"


@FIGURES.register("suzuki_levels")
def make(df: pd.DataFrame) -> Figure:
    return levels_figure(df, "miou", lambda v: v * 100.0, TITLE, YLABEL,
                         "ok 'miou' rows of hierarchical_clustering runs on fcn32")
