"""Jin et al. results table: mIoU and mIoU(Y′, Y) (%) per method × resolution, and the sensitivity tables.

Main table, one per dataset × model × split: rows are methods (every method except sensitivity
variants; the order of :data:`paper_figures.style.METHOD_ORDER`), columns per resolution the mIoU
and mIoU(Y′, Y) (mean ± std over seeds, ± only for more than one seed); each resolution's header
carries its % of pixels sampled (Table 8) when ``fraction_pixels_sampled`` rows exist.
Sensitivity tables (Tables 2-5), only when a run of deformation / deformation_single differs
from its method's reference options (:func:`paper_figures.jin.shared.reference_options`) in one
option: one per dataset × model × split × option, rows the option's values, the reference run
included and marked. The notes define mIoU(Y′, Y).
Reads rows: miou, miou_intrinsic, fraction_pixels_sampled.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import pandas as pd

from benchmark.registry import FIGURES
from paper_figures.jin.shared import summary_by_panel, value_sort_key, with_run_settings
from paper_figures.rows import PANEL_KEY, RESOLUTION, ok_rows, run_params, setting
from paper_figures.style.palette import sort_methods
from paper_figures.style.panels import panel_title, resolution_label
from paper_figures.style.tables import format_mean, latex_table, markdown_table, notes

METRIC_NAMES = {"miou": "mIoU", "miou_intrinsic": "mIoU(Y',Y)"}  # ASCII prime: LaTeX-safe
Key = Tuple[str, ...]


def _cells(df: pd.DataFrame) -> Dict[Key, Tuple[float, float, int]]:
    """(dataset, model, split, method, height, width, metric) -> (mean %, std %, n seeds)."""
    cells: Dict[Key, Tuple[float, float, int]] = {}
    for metric in METRIC_NAMES:
        for row in summary_by_panel(df, metric).itertuples(index=False):
            key = (str(row.dataset), str(row.model), str(row.split), str(row.method), str(row.height),
                   str(row.width), metric)
            cells[key] = (float(row.mean) * 100.0, float(row.std) * 100.0, int(row.n))
    return cells


def _fractions(df: pd.DataFrame) -> Dict[Tuple[str, str, str, str], float]:
    """(dataset, model, height, width) -> mean % of pixels sampled (the same for every method)."""
    rows = ok_rows(df, "fraction_pixels_sampled")
    means = rows.groupby(["dataset", "model"] + RESOLUTION)["value"].mean() * 100.0 if not rows.empty else {}
    return {tuple(str(k) for k in key): float(v) for key, v in dict(means).items()}


def _table(title: str, row_label: str, rows: Sequence[Tuple[str, str]], panel: Key,
           resolutions: Sequence[Tuple[str, str]], cells: Dict[Key, Tuple[float, float, int]],
           fractions: Dict[Tuple[str, str, str, str], float]) -> Tuple[str, str]:
    """One Markdown and one LaTeX table; ``rows`` are (shown label, method label)."""
    def resolution_head(h: str, w: str) -> str:
        fraction = fractions.get((panel[0], panel[1], h, w))
        size = resolution_label(h, w)
        return f"{size} ({fraction:.2g}% px)" if fraction is not None else size

    body: List[List[str]] = []
    for shown, method in rows:
        line = [shown]
        for h, w in resolutions:
            for metric in METRIC_NAMES:
                cell = cells.get((*panel, method, h, w, metric))
                line.append(format_mean(*cell) if cell else "–")
        body.append(line)
    header = [row_label] + [f"{resolution_head(h, w)} {name}" for h, w in resolutions
                            for name in METRIC_NAMES.values()]
    latex_header = [row_label] + list(METRIC_NAMES.values()) * len(resolutions)
    spans = [("", 1)] + [(resolution_head(h, w), len(METRIC_NAMES)) for h, w in resolutions]
    return (f"### {title}\n\n" + markdown_table(header, body),
            latex_table(latex_header, body, caption=title, group_header=spans))


MIOU_INTRINSIC_NOTE = ("mIoU(Y', Y): the mIoU of Y', the ground-truth labels Y sampled on the method's grid and "
                       "unsampled back to full resolution, against Y itself; no network is involved, so it is the "
                       "accuracy ceiling the sampling leaves (Jin et al. 2022).")


def run_settings(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (panel, method label) of the accuracy rows: registered method, varied option keys, options."""
    rows = pd.concat([ok_rows(df, metric) for metric in METRIC_NAMES])
    settings = with_run_settings(rows)
    settings["options"] = run_params(settings).map(lambda p: setting(p, "options") or {})
    settings = settings.astype({c: "string" for c in PANEL_KEY})
    return settings.drop_duplicates(PANEL_KEY + ["method"])[PANEL_KEY + ["method", "registered", "varied", "options"]]


@FIGURES.register("table_jin")
def make(df: pd.DataFrame) -> Dict[str, str]:
    cells = _cells(df)
    fractions = _fractions(df)
    runs = run_settings(df)
    heading = "Jin et al.: mIoU and mIoU(Y', Y) (%) per method and resolution (% px = pixels sampled)"
    md_notes, tex_notes = notes(MIOU_INTRINSIC_NOTE)
    markdown: List[str] = [f"## {heading}\n", md_notes]
    latex: List[str] = [f"% {heading}; generated by dsbench, do not edit\n", tex_notes]
    panels = sorted({key[:3] for key in cells})
    if not panels:
        markdown.append("No data: needs 'miou' or 'miou_intrinsic' rows.\n")
        latex.append("% No data: needs 'miou' or 'miou_intrinsic' rows.\n")
    for panel in panels:
        keys = [k for k in cells if k[:3] == panel]
        resolutions = sorted({(k[4], k[5]) for k in keys}, key=lambda r: (int(r[0]), int(r[1])))
        here = runs[(runs[PANEL_KEY].astype(str) == list(panel)).all(axis=1)].set_index("method")
        methods = sort_methods(k[3] for k in keys)
        varied = {m: tuple(here["varied"].get(m, ())) for m in methods}
        main = [(m, m) for m in methods if not varied[m]]
        if main:
            md, tex = _table(panel_title(*panel), "method", main, panel, resolutions, cells, fractions)
            markdown.append(md)
            latex.append(tex)
        # Tables 2-5: one table per (method, option) that some run varies alone, with the reference run.
        sweeps: Dict[Tuple[str, str], List[Tuple[str, str]]] = {}
        for method in methods:
            if len(varied[method]) == 1:
                key = (str(here.at[method, "registered"]), varied[method][0])
                sweeps.setdefault(key, []).append((str(here.at[method, "options"].get(key[1])), method))
        for (base, option), rows in sorted(sweeps.items()):
            references = [m for m in methods if not varied[m] and here["registered"].get(m) == base]
            rows += [(f"{here.at[m, 'options'].get(option)} (reference)", m) for m in references]
            rows = sorted(rows, key=lambda r: value_sort_key(r[0].split(" ")[0]))
            title = f"Sensitivity of {base} to {option}: {panel_title(*panel)}"
            md, tex = _table(title, option, rows, panel, resolutions, cells, fractions)
            markdown.append(md)
            latex.append(tex)
        several = [m for m in methods if len(varied[m]) > 1]
        if several:
            md_more, tex_more = notes("Left out of the sensitivity tables (more than one option differs from the "
                                      "reference): " + ", ".join(several))
            markdown.append(md_more)
            latex.append(tex_more)
    return {"markdown": "\n".join(markdown), "latex": "\n".join(latex)}
