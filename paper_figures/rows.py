"""The figures' one view of the row schema (:mod:`benchmark.results`): selecting, averaging, run settings.

* Only ``status == "ok"`` rows are plotted (:func:`ok_rows`); repeated seeds are averaged
  (:func:`seed_summary`), their spread is one standard deviation.
* What a run was is read from its ``params`` identity column (:func:`run_params`,
  :func:`with_params`): a canonical JSON object ``{"method": <registered method>, "options":
  {...every option, defaults included}, "train": {"batch_size": ..., ...}}``; ``"{}"`` for rows
  that belong to no single method run (dataset studies). Figures select rows by these settings,
  never by decoding the ``method`` label (the label only names a line or a bar).
* Rows written before the ``track`` / ``params`` columns existed have no settings: every
  setting reads as missing, so a figure that needs one shows an empty panel saying so
  (:data:`NO_PARAMS_NOTE`) and every other figure is unaffected.

Nothing here imports torch or a method.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import pandas as pd

PANEL_KEY = ["dataset", "model", "split"]
RESOLUTION = ["height", "width"]
MISSING = None  # the value of a setting a run's params do not have
NO_PARAMS_NOTE = "rows carry no 'params' column (written before it existed): re-run `dsbench aggregate`"


def ok_rows(df: pd.DataFrame, metric: str, **equal: object) -> pd.DataFrame:
    """Rows of ``metric`` with status ok and every ``column == value`` in ``equal``."""
    mask = (df["metric"] == metric) & (df["status"] == "ok")
    for column, value in equal.items():
        mask &= df[column].astype("string") == str(value)
    out = df[mask.fillna(False).astype(bool)].copy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out


def seed_summary(rows: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1; 0 for one seed) and seed count of ``value`` per ``by``.

    Returns columns ``[*by, "mean", "std", "n"]``; missing key values (e.g. no split) group
    together instead of being dropped.
    """
    if rows.empty:
        return pd.DataFrame(columns=[*by, "mean", "std", "n"])
    grouped = rows.groupby(list(by), dropna=False, sort=True)
    out = grouped["value"].agg(mean="mean", std="std").reset_index()
    out["n"] = grouped["seed"].nunique(dropna=False).to_numpy()
    out["std"] = out["std"].fillna(0.0)
    return out


def panel_groups(points: pd.DataFrame, key: Sequence[str]) -> List[Tuple[Tuple[object, ...], pd.DataFrame]]:
    """``points`` split by ``key`` (sorted; missing values grouped), as (key values, rows)."""
    if points.empty:
        return []
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in points.groupby(list(key), dropna=False, sort=True)]


# ---------------------------------------------------------------------------------------------
# Run settings (the params identity column)


def has_params(df: pd.DataFrame) -> bool:
    """Whether the rows carry the ``params`` identity column at all."""
    return "params" in df.columns


def _parse(text: object) -> Dict[str, Any]:
    if text is None or (not isinstance(text, str) and pd.isna(text)) or str(text).strip() == "":
        return {}
    value = json.loads(str(text))
    return value if isinstance(value, dict) else {}


def run_params(rows: pd.DataFrame) -> pd.Series:
    """The parsed ``params`` of each row (a dict; ``{}`` when the column or the value is missing)."""
    if not has_params(rows):
        return pd.Series([{}] * len(rows), index=rows.index, dtype="object")
    parsed = {text: _parse(text) for text in rows["params"].dropna().unique()}  # parse each run's text once
    return rows["params"].map(lambda text: parsed.get(text, {})).astype("object")


def setting(params: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` of one run's params (``"options.radius"``), else :data:`MISSING`."""
    value: Any = params
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def with_params(rows: pd.DataFrame, **columns: str) -> pd.DataFrame:
    """``rows`` plus one column per keyword, the setting at that dotted path.

    ``with_params(rows, registered="method", radius="options.radius")`` adds ``registered`` (the
    registered method name) and ``radius``; a run without that setting gets None.
    """
    params = run_params(rows)
    return rows.assign(**{name: params.map(lambda p, path=path: setting(p, path)).astype("object")
                          for name, path in columns.items()})


def of_methods(rows: pd.DataFrame, registered: Sequence[str]) -> pd.DataFrame:
    """The rows of runs of the registered methods ``registered`` (by ``params.method``)."""
    names = with_params(rows, _registered="method")["_registered"]
    return rows[names.isin(list(registered)).to_numpy(bool)]


# ---------------------------------------------------------------------------------------------
# Joins shared by several papers' figures


def miou_with_cost(df: pd.DataFrame, cost_metric: str, scale: float, metric: str = "miou",
                   **cost_filter: object) -> pd.DataFrame:
    """``metric`` (%) over seeds joined with a cost (mean over seeds and splits, times ``scale``).

    Columns: dataset, model, split, method, height, width, mean, std, n (in %), cost (NaN where
    no cost row matches). Costs do not depend on the split or seed, so they are joined on
    method and resolution only.
    """
    miou = seed_summary(ok_rows(df, metric), PANEL_KEY + ["method"] + RESOLUTION)
    cost_rows = ok_rows(df, cost_metric, **cost_filter)
    join = ["dataset", "model", "method"] + RESOLUTION
    cost = (cost_rows.groupby(join, dropna=False)["value"].mean().mul(scale).rename("cost").reset_index()
            if not cost_rows.empty else pd.DataFrame(columns=join + ["cost"]))
    points = miou.merge(cost.astype({c: miou[c].dtype for c in join}), on=join, how="left")
    points["cost"] = pd.to_numeric(points["cost"], errors="coerce")
    points[["mean", "std"]] = points[["mean", "std"]].astype(float) * 100.0
    return points


__all__ = ["MISSING", "NO_PARAMS_NOTE", "PANEL_KEY", "RESOLUTION", "has_params", "miou_with_cost", "ok_rows",
           "of_methods", "panel_groups", "run_params", "seed_summary", "setting", "with_params"]
