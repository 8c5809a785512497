"""``dsbench report``: verdicts.csv, REPORT.md and a self-contained index.html.

Everything is computed before anything is written; each file is written atomically. From stored
metrics and counts alone: no torch, no method.
"""
from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pandas as pd

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write_text, markdown_table
from benchmark.report.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from benchmark.report.claims import Claim, load_claims
from benchmark.report.verdicts import COLUMNS, evaluate_claims, overall
from benchmark.results import read_nonempty_rows

PAPER_TITLES = {
    "marin2019": "Marin et al. 2019, Efficient Segmentation: Learning Downsampling Near Semantic Boundaries",
    "jin2022": "Jin et al. 2022, Learning to Downsample for Segmentation of Ultra-High Resolution Images",
    "alcover2023": "Alcover-Couso et al., Soft-labelling for budget-constrained semantic segmentation",
    "suzuki2021": "Suzuki 2021, Implicit Integration of Superpixel Segmentation into Fully Convolutional Networks",
    "wang2022": "Wang et al., Generating Superpixels for High-resolution Images with Decoupled Patch Calibration",
}
COLOURS = {"reproduced": "#1a7f37", "not reproduced": "#cf222e", "inconclusive": "#9a6700"}
FILES = ("verdicts.csv", "REPORT.md", "index.html")
FIGURE_SUFFIXES = (".png", ".md", ".pdf")


def number(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.4g}"


def interval(row: Dict) -> str:
    low, high = row["ci_low"], row["ci_high"]
    return f"[{number(low)}, {number(high)}]" if math.isfinite(low) and math.isfinite(high) else ""


def figure_links(claim: Claim, figures_dir: Optional[Path], out_dir: Path) -> List[tuple]:
    """``(figure id, relative link or "")`` per figure of the claim (the PNG, else the table)."""
    links = []
    for key in claim.figures:
        link = ""
        if figures_dir is not None:
            for suffix in FIGURE_SUFFIXES:
                path = figures_dir / f"{key}{suffix}"
                if path.is_file():
                    link = os.path.relpath(path, out_dir)
                    break
        links.append((key, link))
    return links


def render_markdown(claims: Sequence[Claim], verdicts: pd.DataFrame, links: Dict[str, list], source: str) -> str:
    lines = ["# Reproduction report", "",
             f"Every claim of `results/claims.yaml` tested on `{source}`. Intervals are 95% paired-bootstrap "
             "percentile intervals over images (and seeds where a run has several); deterministic quantities have "
             "none. Verdicts: reproduced, not reproduced, inconclusive (with the reason); a claim's own verdict is not "
             "reproduced if any of its comparisons is, reproduced if all are, else inconclusive.", ""]
    summary = verdicts.groupby("claim")["verdict"].apply(overall).to_dict() if len(verdicts) else {}
    counts = pd.Series(list(summary.values())).value_counts().to_dict() if summary else {}
    lines += [", ".join(f"{counts.get(v, 0)} {v}" for v in COLOURS) + f" (of {len(claims)} claims)", ""]
    for paper in PAPER_TITLES:
        mine = [c for c in claims if c.paper == paper]
        if not mine:
            continue
        lines += [f"## {PAPER_TITLES[paper]}", ""]
        for claim in mine:
            rows = verdicts[verdicts["claim"] == claim.id].to_dict("records")
            figures = ", ".join(f"[{k}]({link})" if link else f"{k} (not built)" for k, link in links[claim.id])
            lines += [f"### {claim.id}: **{summary.get(claim.id, 'inconclusive')}**", "",
                      f"{claim.statement} ({claim.where}). Rule: {claim.rule}.", "",
                      f"Figures: {figures or 'none'}", ""]
            table = [[r["dataset"], r["scope"], number(r["measured"]), interval(r), number(r["paper_value"]),
                      r["verdict"], r["reason"]] for r in rows]
            lines += [markdown_table(["dataset", "scope", "measured", "95% CI", "paper", "verdict", "reason"], table,
                                     "llrrrll"), ""]
    return "\n".join(lines)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:72em;
color:#1f2328;line-height:1.45;padding:0 1em}
h1{border-bottom:1px solid #d0d7de}h2{margin-top:2em;border-bottom:1px solid #d0d7de}
.claim{margin:1.2em 0;padding:.6em 1em;border:1px solid #d0d7de;border-radius:6px}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff;font-size:.85em;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9em;margin-top:.5em}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#656d76}
"""


def badge(verdict: str) -> str:
    return (f'<span class="badge" style="background:{COLOURS.get(verdict, "#656d76")}">'
            f"{html.escape(verdict)}</span>")


def render_html(claims: Sequence[Claim], verdicts: pd.DataFrame, links: Dict[str, list], source: str) -> str:
    e = html.escape
    summary = verdicts.groupby("claim")["verdict"].apply(overall).to_dict() if len(verdicts) else {}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>dsbench reproduction report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>dsbench reproduction report</h1>",
             f'<p class="muted">Every claim of results/claims.yaml tested on {e(source)}: our difference, its 95% '
             "paired-bootstrap interval (images, and seeds where there are several), the paper's number and the "
             "verdict with its reason.</p>"]
    counts = pd.Series(list(summary.values())).value_counts().to_dict() if summary else {}
    parts.append("<p>" + " ".join(f"{badge(v)} {counts.get(v, 0)}" for v in COLOURS) + "</p>")
    for paper in PAPER_TITLES:
        mine = [c for c in claims if c.paper == paper]
        if not mine:
            continue
        parts.append(f'<h2 id="{paper}">{e(PAPER_TITLES[paper])}</h2>')
        for claim in mine:
            rows = verdicts[verdicts["claim"] == claim.id].to_dict("records")
            figures = ", ".join(f'<a href="{e(link)}">{e(k)}</a>' if link else f"{e(k)} <span class=muted>(not built)"
                                f"</span>" for k, link in links[claim.id]) or "none"
            parts += [f'<div class="claim" id="{e(claim.id)}">',
                      f"<h3>{badge(summary.get(claim.id, 'inconclusive'))} {e(claim.statement)}</h3>",
                      f'<p class="muted">{e(claim.id)} &middot; {e(claim.where)} &middot; rule: {e(claim.rule)}'
                      f" &middot; figures: {figures}</p>",
                      "<table><tr><th>dataset</th><th>scope</th><th>ours</th><th>95% CI</th><th>paper</th>"
                      "<th>verdict</th><th>reason</th></tr>"]
            for r in rows:
                parts.append(f"<tr><td>{e(str(r['dataset']))}</td><td>{e(str(r['scope']))}</td>"
                             f'<td class="num">{number(r["measured"])}</td><td class="num">{interval(r)}</td>'
                             f'<td class="num">{number(r["paper_value"])}</td><td>{badge(r["verdict"])}</td>'
                             f"<td>{e(str(r['reason']))}</td></tr>")
            parts.append("</table></div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def build_report(metrics: os.PathLike, out: os.PathLike, *, claims: os.PathLike = "results/claims.yaml",
                 runs: Optional[os.PathLike] = None, figures: Optional[os.PathLike] = None,
                 reported: Optional[os.PathLike] = None, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED) -> List[Path]:
    """Write ``OUT/verdicts.csv``, ``OUT/REPORT.md`` and ``OUT/index.html``; returns their paths.

    ``runs`` defaults to ``runs/`` beside the metrics file (results/metrics.csv -> results/runs),
    ``figures`` to ``figures/`` beside it, ``reported`` to ``reported/`` beside the claims file."""
    if resamples < 1:
        raise DsbenchError(f"--resamples {resamples}: give at least 1 (default {DEFAULT_RESAMPLES})")
    metrics, out, claims_path = Path(metrics), Path(out), Path(claims)
    rows = read_nonempty_rows(metrics, "run the pipeline (snakemake) or `dsbench aggregate` first")
    if runs is not None and not Path(runs).is_dir():
        raise DsbenchError(f"--runs {runs}: no such folder; give the runs dir of these metrics (e.g. results/runs)")
    runs_dir = Path(runs) if runs is not None else metrics.parent / "runs"
    figures_dir = Path(figures) if figures is not None else metrics.parent / "figures"
    reported_dir = Path(reported) if reported is not None else claims_path.parent / "reported"
    claim_list = load_claims(claims_path, reported_dir if reported_dir.is_dir() else None)
    verdicts = evaluate_claims(claim_list, rows, runs_dir, resamples=resamples,
                               seed=seed)
    links = {c.id: figure_links(c, figures_dir, out) for c in claim_list}
    source = str(metrics)
    texts = {"verdicts.csv": verdicts[COLUMNS].to_csv(index=False, float_format="%.6g"),
             "REPORT.md": render_markdown(claim_list, verdicts, links, source),
             "index.html": render_html(claim_list, verdicts, links, source)}
    written = []
    for name in FILES:
        atomic_write_text(out / name, texts[name])
        written.append(out / name)
    return written
