"""Suzuki Table 1: mIoU of HCFCN-32 (level 2) by the seeds' sampling branch; and DeepLabv3 vs HCDeepLabv3.

Branches (Sec. 4.1): the first block of a clustered stage is ``B(x) = I(x) + R(x)``; its seeds are
the identity mapping ``I(x)``, the residual mapping ``R(x)`` or the block's output ``B(x)``.
One section per dataset × split × input size, mean over seeds. Reported: Table 1 (Cityscapes val,
ResNet-18 and ResNet-50) in its own section. The second part is Table 3's DeepLabv3 rows as
:mod:`paper_figures.suzuki.table_suzuki_models` makes them (same experiment's runs).
Reads rows: miou, pixel_accuracy, latency_ms.
"""
from __future__ import annotations

from typing import Dict

import pandas as pd

from benchmark.registry import FIGURES
from paper_figures.reported import load_reported
from paper_figures.rows import seed_summary
from paper_figures.style.panels import resolution_label
from paper_figures.style.tables import format_mean, latex_table, markdown_table, notes
from paper_figures.suzuki.shared import LEVEL_PANEL_KEY, PAPER, PAPER_LEVELS, architectures, models_table

EXPERIMENT = "suzuki_table1"
TITLE = "Suzuki 2021, Table 1: sampling branches of HCFCN-32"
BRANCHES = ["identity", "residual", "block"]
HEADER = ["sampling branch", "mIoU (%)"]


@FIGURES.register("table_suzuki_table1")
def make(df: pd.DataFrame) -> Dict[str, str]:
    rows = architectures(df, "miou")
    rows = rows[(rows["architecture"] == "HCFCN-32") & (rows["levels"] == PAPER_LEVELS).to_numpy(bool)]
    summary = seed_summary(rows.assign(branch=rows["branch"].astype(str)), LEVEL_PANEL_KEY + ["branch"])
    markdown, latex = [f"## {TITLE}\n"], []
    if summary.empty:
        md_notes, tex_notes = notes("No data: needs ok 'miou' rows of hierarchical_clustering runs on fcn32 at "
                                    f"levels {PAPER_LEVELS} (experiment suzuki_table1)")
        markdown.append(md_notes)
        latex.append(tex_notes)
    for key, group in summary.groupby(LEVEL_PANEL_KEY, sort=True):
        dataset, split, h, w = key
        title = f"ours: {dataset} · {split} · {resolution_label(h, w)}"
        by_branch = {b: r for b, r in zip(group["branch"], group.to_dict("records"))}
        body = [[b, format_mean(100 * by_branch[b]["mean"], 100 * by_branch[b]["std"], int(by_branch[b]["n"]))]
                for b in BRANCHES if b in by_branch]
        markdown += [f"### {title}\n", markdown_table(HEADER, body)]
        latex.append(latex_table(HEADER, body, caption=title))
    rep = load_reported(PAPER)
    rep = rep[(rep["source"] == "Table 1") & (rep["metric"] == "miou")]
    if not rep.empty:
        backbone = rep["model"].astype(str).str.rsplit("_", n=1).str[-1]
        branch = rep["setting"].astype(str).str.extract(r"branch=(\w+)")[0]
        header = ["sampling branch", *[f"mIoU (%), {b}" for b in sorted(backbone.unique())]]
        body = [[b, *[format_mean(100 * float(rep[(branch == b) & (backbone == bb)]["value"].mean()))
                      for bb in sorted(backbone.unique())]] for b in BRANCHES]
        title = "reported: Suzuki 2021 Table 1 (Cityscapes val)"
        markdown += [f"### {title}\n", markdown_table(header, body)]
        latex.append(latex_table(header, body, caption=title))
    deeplab = models_table(df, "Suzuki 2021, Table 3: DeepLabv3 and HCDeepLabv3", reported_source="Table 3",
                           only=["DeepLabv3", "HCDeepLabv3"])
    return {"markdown": "\n".join(markdown) + "\n" + deeplab["markdown"],
            "latex": "\n".join(latex) + "\n" + deeplab["latex"]}
