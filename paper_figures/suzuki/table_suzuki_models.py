"""Suzuki Table 3: mIoU, pixel accuracy and inference time of the models at one input size.

Ours: one section per dataset × split × input size; rows in the paper's order (FCN-32, AtrousFCN,
HCFCN-32, PSPNet, HCPSPNet, ... whichever were run), HC models at level 2 with the block branch
(the paper's setting); mean over seeds (± std for more than one). ms/image is the cost step's
median per-image latency after warm-up (batch 1, on the machine the rows name). Reported:
Table 3 (Cityscapes val, 1024x2048, ResNet-101, Quadro RTX8000), in its own section.
Reads rows: miou, pixel_accuracy, latency_ms.
"""
from __future__ import annotations

from typing import Dict

import pandas as pd

from benchmark.registry import FIGURES
from paper_figures.suzuki.shared import models_table

TITLE = "Suzuki 2021, Table 3: accuracy and inference time"


@FIGURES.register("table_suzuki_models")
def make(df: pd.DataFrame) -> Dict[str, str]:
    return models_table(df, TITLE, reported_source="Table 3")
