"""Shared conventions of the Alcover-Couso et al. figures (soft labels); registers no figure.

Label strategies are read from each run's ``params`` (:mod:`paper_figures.rows`), never from its
label: :func:`strategy` names a run by the paper's strategy and picks its palette key.

* Table III: nearest labels (registered ``uniform``), soft-bilinear labels with multi-class
  pixels in the loss (``soft_labels``, ``options.mc`` true) and without (``options.mc`` false).
* Table IV: the colour / label sampler pair is ``(options.image_mode, options.label_mode)``
  (uniform's labels are nearest).
* Fig 7: the training batch size is ``train.batch_size``.

Prior rows (``methods/soft_labels/priors.py``): ``prior_discrepancy`` with ``stage = "<mode>@<scale>"``
(e.g. ``nearest@0.125``) and ``class_frequency`` with stage ``original`` or ``<mode>@<scale>``.
``evaluate`` also writes ``class_frequency`` rows (stages ``original`` / ``sampled``) per run;
they are told apart by the run ids that carry ``prior_discrepancy`` rows.

Nothing here imports torch or a method.
"""
from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from paper_figures.reported import load_reported
from paper_figures.rows import PANEL_KEY, RESOLUTION, ok_rows, run_params, seed_summary, setting
from paper_figures.style.panels import PANEL_HEIGHT_IN, TITLE_SIZE, TWO_COLUMN_IN

PAPER = "alcover2023"
# The strategies' palette keys (the labels the default config gives these runs, so they keep the
# colour they have in the cross-paper figures); which run is which comes from its params.
NEAREST = "uniform"                 # nearest-neighbour labels (the baseline)
SOFT = "soft_labels"                # soft-bilinear labels, KL, MC on
SOFT_MC_OFF = "soft_labels_mc_off"  # soft labels, loss over single-class pixels only
TABLE3_LABELS: List[str] = [NEAREST, SOFT_MC_OFF, SOFT]
STRATEGY_NAMES: Dict[str, str] = {NEAREST: "nearest labels", SOFT: "soft labels, MC on",
                                  SOFT_MC_OFF: "soft labels, MC off"}
DEFAULT_IMAGE_MODE = "bilinear"
DEFAULT_SOFT_MODE = "soft-bilinear"

# Table IV: (colour sampler, label sampler) in the paper's row order.
SAMPLER_ORDER: List[Tuple[str, str]] = [
    ("bilinear", "nearest"), ("bicubic", "nearest"), ("bilinear", "soft-bicubic"), ("bilinear", "soft-bilinear"),
    ("bicubic", "soft-bilinear"), ("bicubic", "soft-bicubic"),
]

# The label modes the two Fig 8 strategies train with (soft_labels trains on soft-bilinear labels).
PRIOR_MODES: Dict[str, str] = {NEAREST: "nearest", SOFT: "soft-bilinear"}
MODE_ORDER: List[str] = ["nearest", "soft-area", "soft-bilinear", "soft-bilinear+cells", "soft-bicubic"]
SCALE_TOLERANCE = 0.02  # relative: training heights are rounded, e.g. round(250 / 8) = 31


def strategy(params: Mapping[str, object]) -> Optional[str]:
    """The Table III strategy of one run's params (:data:`NEAREST`, :data:`SOFT`, :data:`SOFT_MC_OFF`), else None.

    Only runs with the paper's default samplers count: bilinear colour, and nearest (uniform) or
    soft-bilinear (soft_labels) labels; sampler and batch-size studies have their own figures.
    """
    method, image_mode = setting(params, "method"), setting(params, "options.image_mode")
    if image_mode not in (None, DEFAULT_IMAGE_MODE):
        return None
    if method == "uniform":
        return NEAREST
    if method == "soft_labels" and setting(params, "options.label_mode") in (None, DEFAULT_SOFT_MODE):
        return SOFT_MC_OFF if setting(params, "options.mc") is False else SOFT
    return None


def sampler_pair(params: Mapping[str, object]) -> Optional[Tuple[str, str]]:
    """(colour sampler, label sampler) of a uniform or soft_labels run with MC on, else None."""
    method = setting(params, "method")
    image_mode = setting(params, "options.image_mode") or DEFAULT_IMAGE_MODE
    if method == "uniform":
        return (str(image_mode), "nearest")
    if method == "soft_labels" and setting(params, "options.mc") is not False:
        return (str(image_mode), str(setting(params, "options.label_mode") or DEFAULT_SOFT_MODE))
    return None


def with_strategy(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus ``strategy`` (:func:`strategy`), ``pair`` (:func:`sampler_pair`), ``registered``
    (``params.method``), ``batch_size`` (``train.batch_size``) and ``train`` (the train settings as
    text: runs are compared only with runs trained alike)."""
    params = run_params(rows)
    return rows.assign(strategy=params.map(strategy).astype("object"), pair=params.map(sampler_pair).astype("object"),
                       registered=params.map(lambda p: setting(p, "method")).astype("object"),
                       batch_size=params.map(lambda p: setting(p, "train.batch_size")).astype("object"),
                       train=params.map(lambda p: json.dumps(setting(p, "train") or {}, sort_keys=True)))


def scale_text(scale: float) -> str:
    """``0.125 -> "1/8"``, ``1.0 -> "1"``."""
    frac = Fraction(float(scale)).limit_denominator(64)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def scale_color(scale: float) -> str:
    """One colour per downsampling scale (viridis by log2 scale: 1/16 dark, 1 light); not a method colour."""
    position = min(1.0, max(0.0, (math.log2(float(scale)) + 4.0) / 4.0)) * 0.85
    r, g, b, _ = colormaps["viridis"](position)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"


def parse_stage(stage: object) -> Optional[Tuple[str, float]]:
    """``"nearest@0.125" -> ("nearest", 0.125)``; None for ``original``, ``sampled`` or malformed stages."""
    text = str(stage)
    if "@" not in text:
        return None
    mode, _, scale = text.rpartition("@")
    try:
        return mode, float(Fraction(scale))
    except (ValueError, ZeroDivisionError):
        return None


def parse_setting(setting: object) -> Dict[str, str]:
    """``"colour=bilinear; label=nearest; bs=20"`` -> ``{"colour": "bilinear", ...}`` (free text dropped)."""
    out: Dict[str, str] = {}
    if setting is None or (isinstance(setting, float) and math.isnan(setting)) or setting is pd.NA:
        return out
    for part in str(setting).split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def reported(source: str, metric: str) -> pd.DataFrame:
    """Rows of the paper's ``source`` (e.g. ``"Table III"``) for ``metric``, with the setting parsed.

    Adds columns ``colour``, ``label``, ``mc``, ``bs`` (int or NaN), ``scale`` (float or NaN),
    ``stage`` (from the setting). Empty if the reported file or the rows are missing.
    """
    df = load_reported(PAPER)
    rows = df[(df["source"].astype("string") == source) & (df["metric"].astype("string") == metric)].copy()
    settings = [parse_setting(s) for s in rows["setting"]] if not rows.empty else []
    for key in ("colour", "label", "mc", "stage"):
        rows[key] = [s.get(key) for s in settings]
    rows["bs"] = pd.to_numeric(pd.Series([s.get("bs") for s in settings], index=rows.index, dtype="object"),
                               errors="coerce")
    rows["scale"] = [float(Fraction(s["scale"])) if "scale" in s else np.nan for s in settings]
    return rows


def reported_label(row: Mapping[str, object]) -> str:
    """The strategy key of a reported Table I/III row (``mc=off`` -> :data:`SOFT_MC_OFF`)."""
    if row["method"] == SOFT and row.get("mc") == "off":
        return SOFT_MC_OFF
    return str(row["method"])


def _cityscapes_class_names() -> List[str]:
    """The 19 Cityscapes evaluation classes in trainId order (the paper's column order)."""
    try:
        from cityscapesscripts.helpers.labels import labels
    except ImportError:  # optional: without it, classes fall back to frequency / name order
        return []
    return [l.name for l in sorted((l for l in labels if 0 <= l.trainId < 255), key=lambda l: l.trainId)]


CITYSCAPES_CLASSES: List[str] = _cityscapes_class_names()


def class_order(rows: pd.DataFrame, frequency: Optional[Mapping[str, float]] = None) -> List[str]:
    """The class names of ``rows`` in a stable order that survives row sorting.

    Cityscapes classes (synthcity uses them) first, in trainId order; other classes after, by
    descending ``frequency`` (if given), then by name.
    """
    names = set(str(c) for c in rows["class_name"].dropna())
    known = [c for c in CITYSCAPES_CLASSES if c in names]
    freq = frequency or {}
    rest = sorted(names - set(known), key=lambda c: (-float(freq.get(c, -1.0)), c))
    return known + rest


# ---------------------------------------------------------------------------------------------
# Priors


def prior_discrepancies(df: pd.DataFrame) -> pd.DataFrame:
    """D_{d,c} per dataset, split, stage and class (mean over duplicate prior runs).

    Columns: dataset, split, stage, mode, scale, class_name, value (a fraction), in the rows'
    class order.
    """
    rows = ok_rows(df, "prior_discrepancy")
    columns = ["dataset", "split", "stage", "mode", "scale", "class_name", "value"]
    parsed = [parse_stage(s) for s in rows["stage"]]
    rows = rows.assign(mode=[p[0] if p else None for p in parsed], scale=[p[1] if p else np.nan for p in parsed])
    rows = rows.dropna(subset=["mode", "class_name"])
    if rows.empty:
        return pd.DataFrame(columns=columns)
    order = {name: i for i, name in enumerate(class_order(rows))}  # stable class order in the output
    out = rows.groupby(["dataset", "split", "stage", "mode", "scale", "class_name"], dropna=False, sort=False)[
        "value"].mean().reset_index()
    out["class_rank"] = out["class_name"].map(order)
    return out.sort_values(["dataset", "split", "scale", "stage", "class_rank"]).drop(columns="class_rank")[columns]


def prior_original_heights(df: pd.DataFrame) -> Dict[str, float]:
    """Full-resolution label height per dataset, from the prior runs' ``original`` class_frequency rows.

    Falls back to ``height / scale`` of the downsampled prior rows where the original rows have
    no height (images of varying size).
    """
    priors = ok_rows(df, "prior_discrepancy")
    run_ids = set(priors["run_id"].astype(str))
    original = ok_rows(df, "class_frequency", stage="original")
    original = original[original["run_id"].astype(str).isin(run_ids)].dropna(subset=["height"])
    heights = {str(k): float(v) for k, v in original.groupby("dataset")["height"].median().items()}
    scales = [parse_stage(s) for s in priors["stage"]]
    priors = priors.assign(scale=[p[1] if p else np.nan for p in scales]).dropna(subset=["height", "scale"])
    for dataset, group in priors.groupby("dataset"):
        heights.setdefault(str(dataset), float((group["height"].astype(float) / group["scale"]).median()))
    return heights


def match_scale(height: float, original_height: Optional[float], scales: Sequence[float]) -> Optional[float]:
    """The prior scale whose ratio matches ``height / original_height`` (within 2 %), else None."""
    if not original_height:
        return None
    ratio = float(height) / float(original_height)
    close = [s for s in scales if math.isclose(s, ratio, rel_tol=SCALE_TOLERANCE)]
    return min(close, key=lambda s: abs(s - ratio)) if close else None


# ---------------------------------------------------------------------------------------------
# Drawing


def stacked_figure(n_panels: int, title: str, panel_height: float = PANEL_HEIGHT_IN) -> Tuple[Figure, List[Axes]]:
    """Two-column-wide figure with one full-width panel per row (for wide per-class bar charts)."""
    n_panels = max(1, n_panels)
    fig = Figure(figsize=(TWO_COLUMN_IN, panel_height * n_panels + 0.7), layout="constrained")
    axes = list(fig.subplots(n_panels, 1, squeeze=False).ravel())
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig, axes


def iou_gains(df: pd.DataFrame) -> pd.DataFrame:
    """IoU(soft labels, MC on) − IoU(nearest) in pp per dataset, model, split, resolution and class.

    Both strategies come from the runs' params (:func:`strategy`) and only runs trained alike
    (equal ``train`` settings) are compared. Columns: PANEL_KEY, height, width, class_name, gain,
    learned (False where both IoUs are 0: the class was never learned, its gain is not a result).
    """
    key = PANEL_KEY + RESOLUTION + ["class_name"]
    rows = with_strategy(ok_rows(df, "iou").dropna(subset=["class_name"]))
    iou = seed_summary(rows, key + ["train", "strategy"])
    soft = iou[iou["strategy"] == SOFT].set_index(key + ["train"])["mean"]
    nearest = iou[iou["strategy"] == NEAREST].set_index(key + ["train"])["mean"]
    both = pd.concat({"soft": soft, "nearest": nearest}, axis=1, join="inner").dropna()
    if both.empty:
        return pd.DataFrame(columns=key + ["gain", "learned"])
    both = both.reset_index().groupby(key, dropna=False)[["soft", "nearest"]].mean().reset_index()
    both["gain"] = (both["soft"] - both["nearest"]) * 100.0
    # A class neither strategy ever predicts right (IoU 0 for both) has no gain to read.
    both["learned"] = both[["soft", "nearest"]].abs().max(axis=1) > 1e-9
    return both[key + ["gain", "learned"]]
