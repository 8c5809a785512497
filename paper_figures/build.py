"""Write every registered figure and table from a tidy metrics file.

Figures (any id not starting with ``table_``; ``make(df)`` returns a Figure) become
``<id>.png`` (300 dpi) and ``<id>.pdf``; tables (ids ``table_*``; ``make(df)`` returns
``dict(markdown, latex)``) become ``<id>.md`` and ``<id>.tex``. Every file is written
atomically (temporary file + rename). PDFs carry no creation date, so rebuilding from the
same rows gives the same bytes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Union

from matplotlib.figure import Figure

import pandas as pd

from benchmark.errors import DsbenchError
from benchmark.registry import FIGURES
from benchmark.io import atomic_write, atomic_write_text
from benchmark.results import read_nonempty_rows
from paper_figures import figure_ids

PNG_DPI = 300


def _save_figure(fig: Figure, path: Path) -> None:
    # Fixed metadata: no dates or versions in the file, so rebuilding gives the same bytes.
    metadata = {"CreationDate": None, "Producer": None} if path.suffix == ".pdf" else {"Software": None}
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=PNG_DPI, metadata=metadata), suffix=path.suffix)


def build_all(metrics_csv: os.PathLike, out_dir: os.PathLike,
              only: Optional[Union[str, Iterable[str]]] = None) -> List[Path]:
    """Build the figures/tables ``only`` names (default: the default figures,
    :func:`paper_figures.figure_ids`) from a metrics file into ``out_dir``.

    Returns the paths written, in id order. Unknown ids raise :class:`DsbenchError` with close matches.
    """
    return build_frame(read_nonempty_rows(metrics_csv, "run the DAG first (or point --metrics at a metrics CSV with rows)"),
                       out_dir, only)


def build_frame(df: pd.DataFrame, out_dir: os.PathLike,
                only: Optional[Union[str, Iterable[str]]] = None) -> List[Path]:
    """:func:`build_all` from rows already in memory (tests, previews)."""
    ids = figure_ids() if only is None else ([only] if isinstance(only, str) else list(only))
    makers = {key: FIGURES.get(key) for key in ids}  # validate every id before writing anything
    # Every figure is made before the first file is written: a figure that fails leaves no new files.
    results = {key: make(df) for key, make in makers.items()}
    for key, result in results.items():
        # Workflows name outputs by id alone (table_* -> .md/.tex, others -> .png/.pdf): enforce it.
        if isinstance(result, Figure) == key.startswith("table_"):
            raise DsbenchError(f"figure {key!r}: ids starting with 'table_' must return dict(markdown, latex) "
                               "and all other ids a matplotlib Figure; rename the id or fix make(df)")
        if not isinstance(result, Figure) and not (isinstance(result, Mapping) and {"markdown", "latex"} <= set(result)):
            raise DsbenchError(f"figure {key!r}: make(df) returned {type(result).__name__}; "
                               "return a matplotlib Figure or dict(markdown=..., latex=...)")
    out_dir = Path(out_dir)
    written: List[Path] = []
    for key, result in results.items():
        if isinstance(result, Figure):
            for suffix in (".png", ".pdf"):
                _save_figure(result, out_dir / f"{key}{suffix}")
                written.append(out_dir / f"{key}{suffix}")
        else:
            for suffix, text in ((".md", result["markdown"]), (".tex", result["latex"])):
                atomic_write_text(out_dir / f"{key}{suffix}", text)
                written.append(out_dir / f"{key}{suffix}")
    return written
