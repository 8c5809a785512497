"""Markdown and LaTeX tables: number formatting, a booktabs writer, and the suite's Markdown writer.

Tables carry their own definitions (what a column means, what was left out and why) in a notes
line under the heading (:func:`notes`), so a table read on its own is complete.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from benchmark.io import markdown_table  # the one Markdown table writer of the suite


def format_mean(mean: float, std: float = 0.0, n: int = 1, digits: int = 1) -> str:
    """``61.2`` or ``61.2 ± 0.4`` (std over seeds, shown only for more than one seed)."""
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                          ("#", r"\#"), ("±", r"$\pm$"), ("×", r"$\times$"), ("–", "--"), ("·", r"$\cdot$"),
                          ("′", "'")):
        text = text.replace(char, escaped)
    return text


def latex_table(header: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "",
                group_header: Sequence[Tuple[str, int]] = ()) -> str:
    """A booktabs ``tabular`` (first column left, the rest right-aligned).

    ``group_header`` adds a spanning row above ``header``: ``[(text, n_columns), ...]``.
    """
    lines = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule"]
    if caption:
        lines.insert(0, f"% {caption}")
    if group_header:
        cells, rules, col = [], [], 1
        for text, span in group_header:
            cells.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(text)}}}" if span > 1 else latex_escape(text))
            if text:
                rules.append(rf"\cmidrule(lr){{{col}-{col + span - 1}}}")
            col += span
        lines += [" & ".join(cells) + r" \\", " ".join(rules)]
    lines.append(" & ".join(latex_escape(str(h)) for h in header) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(latex_escape(str(c)) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def notes(*lines: str) -> Tuple[str, str]:
    """The table's notes as (Markdown paragraph, LaTeX comment lines); empty lines are left out."""
    kept = [line for line in lines if line]
    return ("\n".join(f"*{line}*  " for line in kept) + "\n" if kept else "",
            "".join(f"% {line}\n" for line in kept))


__all__ = ["format_mean", "latex_escape", "latex_table", "markdown_table", "notes"]
