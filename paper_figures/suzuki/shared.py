"""Shared pieces of the Suzuki 2021 figures (``suzuki_*``) and tables; registers nothing.

Conventions
-----------
* Runs are told apart by their params and model (:mod:`paper_figures.rows`), never by their
  labels: an HC run is ``params.method == "hierarchical_clustering"`` (its base model in the
  ``model`` column, ``options.levels`` / ``options.branch``); a plain model is a ``uniform`` run
  at full size. FCN-32 is HCFCN-32 at hierarchy level 0 (Suzuki Fig 5: "the model corresponds
  to FCN-32 when the level is zero").
* :func:`architectures` names each run as the paper does (FCN-32, HCFCN-32, AtrousFCN, PSPNet,
  HCPSPNet, DeepLabv3, HCDeepLabv3); its ``method`` column keeps the run's label, which picks
  the colour and marker (:func:`paper_figures.style.palette.method_style`).
* Reported numbers (``results/reported/suzuki2021.csv``, Cityscapes with ResNet-101) go in
  separate panels or table sections, never on the axes of our synthcity numbers.

Nothing here imports torch or a method.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from paper_figures.reported import load_reported
from paper_figures.rows import ok_rows, panel_groups, seed_summary, with_params
from paper_figures.style.palette import method_style
from paper_figures.style.panels import add_legend, empty_panel, label_axes, new_figure, resolution_label, split_titles
from paper_figures.style.tables import format_mean, latex_table, markdown_table, notes

PAPER = "suzuki2021"
REPORTED_TITLE = "reported: Suzuki 2021 (Cityscapes, ResNet-101)"
HC = "hierarchical_clustering"
PLAIN = "uniform"  # the plain models run through the uniform sampler at the image's own size
# (registered method, model) -> the paper's name; HC runs on fcn32 split further by level.
ARCHITECTURE: Dict[tuple, str] = {
    (PLAIN, "atrous_fcn"): "AtrousFCN", (PLAIN, "fpn"): "FPN", (PLAIN, "pspnet"): "PSPNet",
    (PLAIN, "deeplabv3"): "DeepLabv3", (HC, "fpn"): "HCFPN", (HC, "pspnet"): "HCPSPNet",
    (HC, "deeplabv3"): "HCDeepLabv3",
}
# Table order of the paper (Table 3).
ARCHITECTURE_ORDER = ["FCN-32", "AtrousFCN", "HCFCN-32", "FPN", "HCFPN", "PSPNet", "HCPSPNet", "DeepLabv3",
                      "HCDeepLabv3"]
# The reported file's model key prefix of each architecture (e.g. hcfcn32_resnet101).
REPORTED_MODEL = {"FCN-32": "fcn32", "AtrousFCN": "atrous_fcn", "HCFCN-32": "hcfcn32", "FPN": "fpn",
                  "HCFPN": "hcfpn", "PSPNet": "pspnet", "HCPSPNet": "hcpspnet", "DeepLabv3": "deeplabv3",
                  "HCDeepLabv3": "hcdeeplabv3"}
# Table 2's thin and small classes (the paper's claim: HCFCN-32 improves them most), as synthcity names them.
THIN_SMALL_CLASSES = ["pole", "traffic light", "traffic sign", "person", "rider", "motorcycle", "bicycle"]
PAPER_LEVELS = 2  # the HC models' level in Tables 2-3 (Sec. 4.2)
DEFAULT_BRANCH = "block"


def architecture(registered: object, model: object, levels: object) -> Optional[str]:
    """The paper's name of a run, or None for runs the Suzuki figures do not show."""
    if registered == HC and model == "fcn32":
        return "FCN-32" if levels == 0 else "HCFCN-32"
    return ARCHITECTURE.get((registered, model))


def architectures(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """ok rows of ``metric`` of the Suzuki runs, with ``registered``, ``levels``, ``branch`` and
    ``architecture`` columns; rows of other runs are dropped."""
    rows = with_params(ok_rows(df, metric), registered="method", levels="options.levels", branch="options.branch")
    rows["architecture"] = [architecture(r, m, lv) for r, m, lv in
                            zip(rows["registered"], rows["model"], rows["levels"])]
    return rows[rows["architecture"].notna()].copy()


def at_paper_settings(rows: pd.DataFrame) -> pd.DataFrame:
    """The runs of Tables 2-3: plain models, FCN-32, HC models at level 2 with the block branch."""
    hc = rows["registered"] == HC
    keep = ~hc | (rows["architecture"] == "FCN-32") | (
        (rows["levels"] == PAPER_LEVELS) & (rows["branch"].fillna(DEFAULT_BRANCH) == DEFAULT_BRANCH))
    return rows[keep.to_numpy(bool)]


def reported(source: str, metric: str) -> pd.DataFrame:
    """Reported rows of ``source`` (e.g. "Table 3") and ``metric``, with an ``architecture`` column."""
    rep = load_reported(PAPER)
    rep = rep[(rep["source"] == source) & (rep["metric"] == metric)].copy()
    by_prefix = {prefix: name for name, prefix in REPORTED_MODEL.items()}
    rep["architecture"] = rep["model"].astype(str).str.rsplit("_", n=1).str[0].map(by_prefix)
    rep["backbone"] = rep["model"].astype(str).str.rsplit("_", n=1).str[-1]
    return rep


# ---------------------------------------------------------------------------------------------
# Figs 5 and 6: a measure against the hierarchy level, AtrousFCN as a reference line

LEVEL_PANEL_KEY = ["dataset", "split", "height", "width"]
LEVEL_XLABEL = "hierarchy level (0 = FCN-32)"
HCFCN_LINE = "hierarchical_clustering"  # the HCFCN-32 line takes the method's colour and marker
ATROUS_LABEL = "atrous_fcn"


def levels_figure(df: pd.DataFrame, metric: str, value: Callable[[pd.Series], pd.Series], title: str,
                  ylabel: str, needs: str) -> Figure:
    """One panel per dataset × split × input size: ``value(rows)`` (mean over seeds) of HCFCN-32
    (block branch) at each level, and AtrousFCN's as a dashed horizontal reference line."""
    rows = architectures(df, metric)
    rows = rows.assign(value=value(rows["value"].astype(float)))
    hc = rows[rows["architecture"].isin(["FCN-32", "HCFCN-32"])
              & (rows["branch"].fillna(DEFAULT_BRANCH) == DEFAULT_BRANCH).to_numpy(bool)]
    hc = seed_summary(hc.assign(levels=hc["levels"].astype(float)), LEVEL_PANEL_KEY + ["levels"])
    atrous = seed_summary(rows[rows["architecture"] == "AtrousFCN"], LEVEL_PANEL_KEY)
    line_style = method_style(HCFCN_LINE)
    reference_style = {**method_style(ATROUS_LABEL), "marker": "None", "linestyle": "--"}
    legend = [("HCFCN-32 (level 0: FCN-32)", {**line_style, "markersize": 5}),
              ("AtrousFCN (output stride 8)", reference_style)]
    groups = panel_groups(hc, LEVEL_PANEL_KEY)
    keys = [(d, s, resolution_label(h, w)) for (d, s, h, w), _ in groups]
    common, titles = split_titles(keys)
    fig, axes = new_figure(max(1, len(groups)), f"{title}\n{common}" if common else title)
    if not groups:
        label_axes(axes[0], "", LEVEL_XLABEL, ylabel)
        empty_panel(axes[0], f"no data: needs {needs}")
    for ax, panel, (key, group) in zip(axes, titles, groups):
        label_axes(ax, panel, LEVEL_XLABEL, ylabel)
        group = group.sort_values("levels")
        ax.plot(group["levels"], group["mean"], markersize=5, linewidth=1.2, **line_style)
        many = group[group["n"] > 1]
        if not many.empty:
            ax.errorbar(many["levels"], many["mean"], yerr=many["std"], fmt="none", ecolor=line_style["color"],
                        elinewidth=0.8, capsize=2)
        here = atrous[(atrous[LEVEL_PANEL_KEY].astype(str) == [str(k) for k in key]).all(axis=1)]
        if not here.empty:
            ax.axhline(float(here["mean"].mean()), linewidth=1.2, color=reference_style["color"], linestyle="--")
        ax.set_xticks(np.arange(0, 5))
        ax.set_xlim(-0.3, 4.3)
        top = max([float(group["mean"].max())] + [float(here["mean"].mean())] * (not here.empty))
        ax.set_ylim(0.0, max(top, 1e-6) * 1.12)  # from 0, with room for the top marker
    add_legend(fig, [], extra=legend)
    return fig


# ---------------------------------------------------------------------------------------------
# Table 3: accuracy and time per architecture

MODEL_TABLE_HEADER = ["model", "mIoU (%)", "pixel acc. (%)", "ms/image"]


def models_table(df: pd.DataFrame, title: str, reported_source: str, only: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Markdown and LaTeX of Table 3's columns for our runs (one section per dataset × split ×
    input size) and the reported ones (own section); ``only``: these architectures."""
    names = [a for a in ARCHITECTURE_ORDER if only is None or a in only]
    summaries = {}
    for metric, scale in (("miou", 100.0), ("pixel_accuracy", 100.0), ("latency_ms", 1.0)):
        rows = at_paper_settings(architectures(df, metric))
        rows = rows[rows["architecture"].isin(names)]
        summaries[metric] = seed_summary(rows.assign(value=rows["value"].astype(float) * scale),
                                         LEVEL_PANEL_KEY + ["architecture"])
    markdown, latex = [f"## {title}\n"], []
    miou = summaries["miou"]
    if miou.empty:
        md_notes, tex_notes = notes(f"No data: needs ok 'miou' rows of {', '.join(names)} runs")
        markdown.append(md_notes)
        latex.append(tex_notes)
    for key, group in miou.groupby(LEVEL_PANEL_KEY, sort=True):
        dataset, split, h, w = key
        section = f"ours: {dataset} · {split} · {resolution_label(h, w)}"
        body = []
        for name in [a for a in names if a in set(group["architecture"])]:
            cells = [name]
            for metric, digits in (("miou", 1), ("pixel_accuracy", 1), ("latency_ms", 1)):
                s = summaries[metric]
                # cost rows carry the run's split too; match on dataset and size alone if not
                hit = s[(s["architecture"] == name) & (s["dataset"].astype(str) == str(dataset))
                        & (s["height"].astype(str) == str(h)) & (s["width"].astype(str) == str(w))]
                same_split = hit[hit["split"].astype(str) == str(split)]
                hit = same_split if not same_split.empty else hit
                cells.append(format_mean(float(hit["mean"].iloc[0]), float(hit["std"].iloc[0]), int(hit["n"].iloc[0]),
                                         digits) if not hit.empty else "–")
            body.append(cells)
        markdown += [f"### {section}\n", markdown_table(MODEL_TABLE_HEADER, body)]
        latex.append(latex_table(MODEL_TABLE_HEADER, body, caption=section))
    rep = {metric: reported(reported_source, metric) for metric in ("miou", "pixel_accuracy", "latency")}
    body = []
    for name in names:
        cells = [name]
        for metric, scale in (("miou", 100.0), ("pixel_accuracy", 100.0), ("latency", 1.0)):
            values = rep[metric][rep[metric]["architecture"] == name]["value"]
            cells.append(format_mean(scale * float(values.mean())) if not values.empty else "–")
        if any(c != "–" for c in cells[1:]):
            body.append(cells)
    if body:
        section = f"{REPORTED_TITLE}, {reported_source}"
        markdown += [f"### {section}\n", markdown_table(MODEL_TABLE_HEADER, body)]
        latex.append(latex_table(MODEL_TABLE_HEADER, body, caption=section))
    return {"markdown": "\n".join(markdown), "latex": "\n".join(latex)}
