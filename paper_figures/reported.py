"""Numbers transcribed from the papers (``results/reported/<paper>.csv``), for separate panels.

Schema: ``results/reported/README.md`` (paper, source, dataset, method, model, height, width,
gflops, metric, value, unit, class_name, setting). These are never drawn on the same axes as
our own (synthcity) rows: the datasets differ.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.errors import DsbenchError

REPORTED_DIR = Path(__file__).resolve().parents[1] / "results" / "reported"
REPORTED_COLUMNS = ["paper", "source", "dataset", "method", "model", "height", "width", "gflops", "metric",
                    "value", "unit", "class_name", "setting"]


def load_reported(paper: str) -> pd.DataFrame:
    """Rows of ``results/reported/<paper>.csv``; an empty frame (same columns) if the file is missing.

    ``height``/``width`` are nullable integers, ``value``/``gflops`` floats, text columns strings.
    A file with missing columns raises :class:`DsbenchError` naming the file.
    """
    path = REPORTED_DIR / f"{paper}.csv"
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in REPORTED_COLUMNS})
    try:
        df = pd.read_csv(path, dtype={c: "string" for c in ("paper", "source", "dataset", "method", "model", "metric",
                                                            "unit", "class_name", "setting")})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DsbenchError(f"{path}: not a readable CSV ({exc.__class__.__name__}); fix it by hand (see README.md there)")
    missing = [c for c in REPORTED_COLUMNS if c not in df.columns]
    if missing:
        raise DsbenchError(f"{path}: missing column(s) {', '.join(missing)}; follow results/reported/README.md")
    for col in ("height", "width"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("value", "gflops"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df
