"""Write every registered figure and table from a tidy metrics file.

Figures (any id not starting with ``table_``; ``make(df)`` returns a Figure) become
``<id>.png`` (300 dpi) and ``<id>.pdf``; tables (ids ``table_*``; ``make(df)`` returns
``dict(markdown, latex)``) become ``<id>.md`` and ``<id>.tex``. Every file is written
atomically (temporary file + rename). PDFs carry no creation date, so rebuilding from the
same rows gives the same bytes.
"""
from __future__ import annotations

import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Union

from matplotlib.figure import Figure

import pandas as pd

from benchmark.errors import DsbenchError
from benchmark.registry import FIGURES
from benchmark.io import atomic_write_bytes
from benchmark.results import read_nonempty_rows
from paper_figures import figure_ids

PNG_DPI = 300


def _render(key: str, df: pd.DataFrame) -> Dict[str, bytes]:
    """Make one registered output and return its files' bytes by suffix (nothing is written)."""
    result = FIGURES.get(key)(df)
    # Workflows name outputs by id alone (table_* -> .md/.tex, others -> .png/.pdf): enforce it.
    if isinstance(result, Figure) == key.startswith("table_"):
        raise DsbenchError(f"figure {key!r}: ids starting with 'table_' must return dict(markdown, latex) "
                           "and all other ids a matplotlib Figure; rename the id or fix make(df)")
    if isinstance(result, Figure):
        files = {}
        for suffix in (".png", ".pdf"):
            # Fixed metadata: no dates or versions in the file, so rebuilding gives the same bytes.
            metadata = {"CreationDate": None, "Producer": None} if suffix == ".pdf" else {"Software": None}
            buffer = io.BytesIO()
            result.savefig(buffer, format=suffix[1:], dpi=PNG_DPI, metadata=metadata)
            files[suffix] = buffer.getvalue()
        return files
    if isinstance(result, Mapping) and {"markdown", "latex"} <= set(result):
        return {".md": result["markdown"].encode("utf-8"), ".tex": result["latex"].encode("utf-8")}
    raise DsbenchError(f"figure {key!r}: make(df) returned {type(result).__name__}; "
                       "return a matplotlib Figure or dict(markdown=..., latex=...)")


# The rows the worker processes render from: set before they fork, so they inherit it unpickled.
_ROWS: Optional[pd.DataFrame] = None


def _render_inherited(key: str) -> Dict[str, bytes]:
    return _render(key, _ROWS)


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def build_all(metrics_csv: os.PathLike, out_dir: os.PathLike,
              only: Optional[Union[str, Iterable[str]]] = None) -> List[Path]:
    """Build the figures/tables ``only`` names (default: the default figures,
    :func:`paper_figures.figure_ids`) from a metrics file into ``out_dir``.

    Returns the paths written, in id order. Unknown ids raise :class:`DsbenchError` with close matches.
    """
    return build_frame(read_nonempty_rows(metrics_csv, "run the DAG first (or point --metrics at a metrics CSV with rows)"),
                       out_dir, only)


def build_frame(df: pd.DataFrame, out_dir: os.PathLike,
                only: Optional[Union[str, Iterable[str]]] = None, workers: Optional[int] = None) -> List[Path]:
    """:func:`build_all` from rows already in memory (tests, previews).

    Outputs are rendered by ``workers`` forked processes (default: every usable CPU; rendering
    300-dpi PNGs and PDFs is most of the time) into memory, and written only once every one of
    them succeeded: a figure that fails leaves no new files.
    """
    global _ROWS
    ids = figure_ids() if only is None else ([only] if isinstance(only, str) else list(only))
    for key in ids:  # validate every id before making anything
        FIGURES.get(key)
    workers = min(len(ids), workers or usable_cpus())
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _ROWS = df
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                rendered = dict(zip(ids, pool.map(_render_inherited, ids)))
        finally:
            _ROWS = None
    else:
        rendered = {key: _render(key, df) for key in ids}
    out_dir = Path(out_dir)
    written: List[Path] = []
    for key, files in rendered.items():
        for suffix, data in files.items():
            path = out_dir / f"{key}{suffix}"
            atomic_write_bytes(path, data, suffix=suffix)
            written.append(path)
    return written
