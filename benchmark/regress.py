"""Regression check: compare the current tidy rows with a golden reference.

Rows are matched on identity + measurement keys (:data:`MATCH_KEY`: everything except
``run_id``, the value and the provenance columns). Every row is one of two kinds
(:func:`row_kinds`), because CPU training is reproducible on one machine but not across CPU
models (AVX2 and AVX512 kernels, oneDNN's blocking, libm round differently, and training
amplifies that):

* **training-free** rows involve no trained weight: costs, parameters, priors and prior
  discrepancy, sampling points, and the sampler statistics (intrinsic error mIoU(Y', Y),
  sampled class frequency, fraction of pixels sampled) of methods whose sampler has no
  parameters. They are the same on every machine and are compared tightly;
* **trained** rows depend on trained weights: the network's accuracy metrics, the training
  loss, and the sampler statistics of learned samplers (a run whose ``params`` row of stage
  ``sampler`` is positive). Their tolerance is ``max(floor, margin x measured variation)``:
  the variation is measured across CPU kernel settings and stored beside the reference
  (:func:`calibration_path`, written by :func:`calibrate`), the floor and margin are policy.

Per matched row:

* integer metrics (unit ``MAC``, ``FLOP`` or ``count``) must be equal;
* float metrics must agree within their tolerance (``|now - reference| <= abs + rel *
  |reference|``), in EITHER direction: a number that moves out of tolerance fails as
  ``worse`` or, just as loudly, as suspiciously ``better``; a value that is not finite fails;
* metrics listed under ``ignore:`` (timings) are reported but never fail;
* a reference row that is missing now fails (``missing``); a new row passes (``new``);
* a row that was ok and is now skipped/failed fails (``status ok->failed``).

Tolerance file (``workflows/tolerances.yaml``)::

    training_free:
      default: {abs: 1.0e-6}      # every training-free float metric without its own entry
      prior_discrepancy: {abs: 1.0e-7}
    trained:
      margin: 2.0                 # x the calibrated variation
      default: {abs: 0.005}       # floor of every trained metric without its own entry
      miou: {abs: 0.005}
    ignore: [latency_ms, ...]     # never compared

A reference with no rows, or current rows that match none of it, is bad input (an error), so
the gate can never pass without comparing anything. Nothing here imports torch.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

import pandas as pd
import yaml

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write_text, markdown_table
from benchmark.results import IDENTITY, MEASUREMENT, METRICS, key_text, read_nonempty_rows, read_rows, write_rows

# What .ci/run exports: the same kernels on every x86 machine with AVX2. It narrows the
# differences between machines; the calibrated tolerances absorb what remains.
CI_NUMERICS = "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2"

# Identity + measurement keys a row is matched on (run ids and provenance differ between runs).
# ``params`` is compared separately (a changed setting under the same label is named as such), and
# ``track`` follows from the method.
MATCH_KEY: List[str] = ([c for c in IDENTITY if c not in ("run_id", "track", "params")]
                        + [c for c in MEASUREMENT if c != "value"])
INTEGER_UNITS: FrozenSet[str] = frozenset({"MAC", "FLOP", "count"})
# Direction in which a metric improves, to tell "worse" from "better"; others are "changed".
LOWER_IS_BETTER: FrozenSet[str] = frozenset({
    "macs", "flops", "params", "unsupported_ops", "latency_ms", "peak_memory_mib", "train_loss",
})
NO_DIRECTION: FrozenSet[str] = frozenset({"class_frequency", "prior_discrepancy"})

TRAINING_FREE, TRAINED = "training_free", "trained"
# Metrics computed from the segmentation network's outputs or its training: always trained.
NETWORK_METRICS: FrozenSet[str] = frozenset({
    "miou", "miou_target", "iou", "pixel_accuracy", "trimap_accuracy", "recall_by_size", "train_loss",
    "asa", "boundary_recall", "boundary_precision",
})
# Metrics of the sampler alone: trained exactly when the sampler has parameters. The
# ``original`` stage of class_frequency describes the labels before sampling: training-free.
SAMPLER_METRICS: FrozenSet[str] = frozenset({"class_frequency", "miou_intrinsic", "miou_intrinsic_own_unsampler",
                                             "fraction_pixels_sampled"})
# The run keys (MATCH_KEY's identity part without split) that name one configuration.
RUN_KEY: List[str] = [c for c in MATCH_KEY if c in IDENTITY and c != "split"]

REPORT_COLUMNS: List[str] = MATCH_KEY + ["kind", "reference", "now", "delta", "tolerance", "verdict", "passed"]
# Verdicts that need no attention in a report.
QUIET_VERDICTS: FrozenSet[str] = frozenset({"ok", "ignored"})


@dataclass(frozen=True)
class Tolerance:
    """Allowed ``|now - reference|``: ``abs + rel * |reference|``; ``exact`` for integers."""

    abs: float = 0.0
    rel: float = 0.0
    exact: bool = False
    calibrated: bool = False   # abs comes from the measured variation, not from the floor

    def allows(self, reference: float, now: float) -> bool:
        if self.exact:
            return reference == now
        return abs(now - reference) <= self.abs + self.rel * abs(reference)

    def describe(self) -> str:
        if self.exact:
            return "exact"
        parts = [f"abs {self.abs:.3g}"] if self.abs or not self.rel else []
        text = ", ".join(parts + ([f"rel {self.rel:g}"] if self.rel else []))
        return text + (" (calibrated)" if self.calibrated else "")


@dataclass
class Tolerances:
    """The policy of ``workflows/tolerances.yaml`` plus, when given, the calibrated variation."""

    training_free_default: Tolerance = field(default_factory=lambda: Tolerance(abs=1e-6))
    training_free: Dict[str, Tolerance] = field(default_factory=dict)
    trained_default: Tolerance = field(default_factory=lambda: Tolerance(abs=0.005))
    trained: Dict[str, Tolerance] = field(default_factory=dict)
    margin: float = 2.0
    ignore: FrozenSet[str] = frozenset()
    variation: Dict[str, float] = field(default_factory=dict)  # metric -> calibrated max |deviation|

    def floor(self, metric: str) -> Tolerance:
        return self.trained.get(metric, self.trained_default)

    def for_metric(self, metric: str, unit: str, kind: str = TRAINED, stage: str = "") -> Tolerance:
        if unit in INTEGER_UNITS or METRICS.get(metric) in INTEGER_UNITS:
            return Tolerance(exact=True)
        if kind == TRAINING_FREE:
            return self.training_free.get(metric, self.training_free_default)
        floor = self.floor(metric)
        measured = self.margin * self.variation.get(variation_key(metric, stage), 0.0)
        if measured > floor.abs:
            return Tolerance(abs=measured, rel=floor.rel, calibrated=True)
        return floor


def _number(raw: Any, where: str) -> float:
    # YAML 1.1 reads "1e-4" (no dot) as a string: accept it; booleans are never numbers.
    if isinstance(raw, bool):
        raise DsbenchError(f"{where}: {raw!r} is a boolean, not a number; write e.g. 0.005")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DsbenchError(f"{where}: {raw!r} is not a number; write e.g. 0.005") from None
    if not math.isfinite(value) or value < 0:
        raise DsbenchError(f"{where}: {raw!r} must be a finite number >= 0")
    return value


def _parse_tolerance(spec: Any, where: str) -> Tolerance:
    if not isinstance(spec, Mapping) or not spec:
        raise DsbenchError(f"{where}: expected a mapping like {{abs: 0.005}} or {{rel: 0.01}}, got {spec!r}")
    unknown = set(spec) - {"abs", "rel"}
    if unknown:
        raise DsbenchError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; use abs and/or rel")
    values = {key: _number(raw, f"{where}.{key}") for key, raw in spec.items()}
    return Tolerance(abs=values.get("abs", 0.0), rel=values.get("rel", 0.0))


def _check_metric(name: Any, known: Set[str], where: str) -> str:
    if name not in known:
        close = difflib.get_close_matches(str(name), sorted(known), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "add it to benchmark.results.METRICS first"
        raise DsbenchError(f"{where}: unknown metric {name!r}; {hint}")
    return str(name)


def _parse_section(raw: Any, known: Set[str], where: str, extra: Sequence[str] = ()) -> Dict[str, Tolerance]:
    if not isinstance(raw, Mapping):
        raise DsbenchError(f"{where}: expected a mapping of metric -> {{abs, rel}}")
    return {key if key == "default" else _check_metric(key, known, where): _parse_tolerance(spec, f"{where}.{key}")
            for key, spec in raw.items() if key not in extra}


def load_tolerances(path: os.PathLike, known_metrics: Sequence[str] = ()) -> Tolerances:
    """Read the tolerance YAML. Metric keys must be in :data:`METRICS` or ``known_metrics``."""
    path = Path(path)
    if not path.is_file():
        raise DsbenchError(f"{path}: no such tolerance file; pass workflows/tolerances.yaml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DsbenchError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    if not isinstance(raw, Mapping):
        raise DsbenchError(f"{path}: expected a mapping with training_free, trained and ignore")
    unknown = set(raw) - {TRAINING_FREE, TRAINED, "ignore"}
    if unknown:
        close = [m for k in unknown for m in difflib.get_close_matches(str(k), [TRAINING_FREE, TRAINED, "ignore"], n=1)]
        raise DsbenchError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; the top level holds "
                           f"training_free, trained and ignore" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    known = set(METRICS) | set(known_metrics)
    tolerances = Tolerances()
    free = _parse_section(raw.get(TRAINING_FREE) or {}, known, f"{path}: {TRAINING_FREE}")
    tolerances.training_free_default = free.pop("default", tolerances.training_free_default)
    tolerances.training_free = free
    trained_raw = raw.get(TRAINED) or {}
    trained = _parse_section(trained_raw, known, f"{path}: {TRAINED}", extra=("margin",))
    tolerances.trained_default = trained.pop("default", tolerances.trained_default)
    tolerances.trained = trained
    if "margin" in trained_raw:
        tolerances.margin = _number(trained_raw["margin"], f"{path}: {TRAINED}.margin")
    ignore = raw.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(m, str) for m in ignore):
        raise DsbenchError(f"{path}: 'ignore' must be a list of metric names")
    tolerances.ignore = frozenset(_check_metric(m, known, f"{path}: ignore") for m in ignore)
    return tolerances


def calibration_path(reference_csv: os.PathLike) -> Path:
    """Where the measured variation of a reference lives: ``ci.csv`` -> ``ci.calibration.yaml``."""
    path = Path(reference_csv)
    return path.with_name(path.stem + ".calibration.yaml")


def load_variation(path: os.PathLike) -> Dict[str, float]:
    """metric -> calibrated max |deviation| from a calibration file (:func:`calibrate`)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise DsbenchError(f"{path}: cannot read the calibration ({exc.strerror}); "
                           f"re-create it with `dsbench calibrate` (README, 'Regression gate')") from None
    except yaml.YAMLError as exc:
        raise DsbenchError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); re-create it with `dsbench calibrate`") from None
    metrics = raw.get("metrics") if isinstance(raw, Mapping) else None
    if not isinstance(metrics, Mapping) or not metrics:
        raise DsbenchError(f"{path}: no 'metrics' mapping; re-create it with `dsbench calibrate`")
    variation = {}
    for metric, entry in metrics.items():
        if not isinstance(entry, Mapping) or "kernel_max_abs_dev" not in entry:
            raise DsbenchError(f"{path}: metrics.{metric} has no kernel_max_abs_dev; re-create it with `dsbench calibrate`")
        variation[str(metric)] = _number(entry["kernel_max_abs_dev"], f"{path}: metrics.{metric}.kernel_max_abs_dev")
    return variation


# ---------------------------------------------------------------------------------------------
# Matching


def _keyed(df: pd.DataFrame, source: str) -> Dict[Tuple[str, ...], Mapping[str, Any]]:
    keyed: Dict[Tuple[str, ...], Mapping[str, Any]] = {}
    for row in df.to_dict("records"):
        key = tuple(key_text(row[c]) for c in MATCH_KEY)
        if key in keyed:
            raise DsbenchError(f"{source}: two rows for {describe_key(dict(zip(MATCH_KEY, key)))} "
                               f"(run ids {keyed[key]['run_id']}, {row['run_id']}); re-run `dsbench aggregate`")
        keyed[key] = row
    return keyed


def _natural(key: Tuple[str, ...]) -> Tuple[Tuple[int, float, str], ...]:
    # Numbers sort as numbers (32 before 128), text as text, missing first.
    def part(text: str) -> Tuple[int, float, str]:
        try:
            return (1, float(text), "")
        except ValueError:
            return (0 if text == "" else 2, 0.0, text)
    return tuple(part(t) for t in key)


def describe_key(row: Mapping[str, Any], with_metric: bool = True) -> str:
    """``synthcity/val my_method deeplab 64x128 seed 0 miou stage=total``."""
    where = f"{key_text(row['dataset'])}/{key_text(row['split'])}".rstrip("/")
    parts = [where, key_text(row["method"]), key_text(row["model"])]
    if key_text(row["height"]):
        parts.append(f"{key_text(row['height'])}x{key_text(row['width'])}")
    if key_text(row["seed"]):
        parts.append(f"seed {key_text(row['seed'])}")
    if with_metric:
        parts.append(key_text(row["metric"]))
    parts += [f"{c}={key_text(row[c])}" for c in ("class_name", "band_px", "size_bin", "n_superpixels", "stage")
              if key_text(row[c])]
    return " ".join(p for p in parts if p)


def row_kinds(df: pd.DataFrame) -> pd.Series:
    """:data:`TRAINING_FREE` or :data:`TRAINED` for every row (see the module docstring)."""
    params = df[(df["metric"] == "params") & (df["stage"].fillna("") == "sampler") & (df["status"] == "ok")]
    learned = {tuple(key_text(r[c]) for c in RUN_KEY) for r in params.to_dict("records") if float(r["value"]) > 0}
    kinds = []
    for row in df.to_dict("records"):
        metric = row["metric"]
        if metric in NETWORK_METRICS:
            kinds.append(TRAINED)
        elif (metric in SAMPLER_METRICS and key_text(row["stage"]) != "original"
              and tuple(key_text(row[c]) for c in RUN_KEY) in learned):
            kinds.append(TRAINED)
        else:
            kinds.append(TRAINING_FREE)
    return pd.Series(kinds, index=df.index, dtype=object)


# A method's mean over its runs (resolutions, seeds) of these trained metrics is compared too:
# training noise partly averages out across runs, so a drop of the whole method is caught with a
# tolerance tighter than one run's.
MEAN_METRICS: Tuple[str, ...] = ("miou",)
MEAN_STAGE = "mean over runs"
MEAN_KEY: List[str] = ["dataset", "split", "method", "model", "metric", "unit"]


def _mean_groups(pairs: List[Dict[str, Any]]) -> Dict[Tuple[str, ...], List[Dict[str, Any]]]:
    """Matched pairs (keys of MATCH_KEY plus ``reference``/``now``) of :data:`MEAN_METRICS`, both
    values finite, grouped by :data:`MEAN_KEY`: the runs a method's mean is taken over."""
    groups: Dict[Tuple[str, ...], List[Dict[str, Any]]] = {}
    for pair in pairs:
        if (pair["metric"] in MEAN_METRICS and not pair["class_name"] and not pair["stage"]
                and _finite(pair["reference"]) and _finite(pair["now"])):
            groups.setdefault(tuple(pair[c] for c in MEAN_KEY), []).append(pair)
    return groups


def _mean_key(group_key: Tuple[str, ...]) -> Dict[str, str]:
    base = {c: "" for c in MATCH_KEY}
    base.update(dict(zip(MEAN_KEY, group_key)), stage=MEAN_STAGE)
    return base


def variation_key(metric: str, stage: str) -> str:
    """The calibration's name for a metric: ``miou``, or ``miou (mean over runs)`` for the means."""
    return f"{metric} ({MEAN_STAGE})" if stage == MEAN_STAGE else metric


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _verdict(metric: str, unit: str, kind: str, ref: Mapping[str, Any], now: Mapping[str, Any],
             tolerances: Tolerances) -> Tuple[str, bool, str]:
    """(verdict, passed, tolerance text) for a matched pair of rows."""
    if metric in tolerances.ignore:
        return "ignored", True, "ignored"
    tol = tolerances.for_metric(metric, unit, kind, key_text(ref["stage"]))
    if ref["status"] != now["status"]:
        # Recovering (-> ok) passes: it is a new number; any loss of a number fails.
        return f"status {ref['status']}->{now['status']}", now["status"] == "ok", tol.describe()
    if ref["status"] != "ok":
        return "ok", True, tol.describe()
    if not _finite(now["value"]):
        return "not finite", False, tol.describe()
    reference, current = float(ref["value"]), float(now["value"])
    if tol.allows(reference, current):
        return "ok", True, tol.describe()
    if metric in NO_DIRECTION:
        return "changed", False, tol.describe()
    higher_better = metric not in LOWER_IS_BETTER
    improved = (current > reference) == higher_better
    return ("better" if improved else "worse"), False, tol.describe()


def compare(reference: pd.DataFrame, current: pd.DataFrame, tolerances: Tolerances,
            reference_name: str = "reference", current_name: str = "current") -> pd.DataFrame:
    """Row-by-row comparison; columns :data:`REPORT_COLUMNS`, sorted by key.

    A row's kind comes from the reference (a new row: from the current rows).
    """
    ref_rows, now_rows = _keyed(reference, reference_name), _keyed(current, current_name)
    kinds = {**_kinds_by_key(current), **_kinds_by_key(reference)}
    records = []
    for key in sorted(set(ref_rows) | set(now_rows), key=_natural):
        ref, now = ref_rows.get(key), now_rows.get(key)
        base = dict(zip(MATCH_KEY, key))
        metric, unit, kind = base["metric"], base["unit"], kinds[key]
        ref_value = float(ref["value"]) if ref is not None and ref["status"] == "ok" else math.nan
        now_value = float(now["value"]) if now is not None and now["status"] == "ok" else math.nan
        if now is None:
            verdict, passed, tol = "missing", metric in tolerances.ignore, ""
        elif ref is None:
            verdict, passed, tol = "new", True, ""
        elif key_text(ref["params"]) and key_text(now["params"]) and key_text(ref["params"]) != key_text(now["params"]):
            # Same label, other settings (a changed default, say): never compared as if equal.
            verdict, passed, tol = "params changed", False, ""
        else:
            verdict, passed, tol = _verdict(metric, unit, kind, ref, now, tolerances)
        records.append({**base, "kind": kind, "reference": ref_value, "now": now_value,
                        "delta": now_value - ref_value, "tolerance": tol, "verdict": verdict, "passed": passed})
    for group_key, pairs in _mean_groups([r for r in records if r["kind"] == TRAINED]).items():
        base = _mean_key(group_key)
        ref_mean = statistics.fmean(p["reference"] for p in pairs)
        now_mean = statistics.fmean(p["now"] for p in pairs)
        verdict, passed, tol = _verdict(base["metric"], base["unit"], TRAINED, {"status": "ok", "value": ref_mean, "stage": MEAN_STAGE},
                                        {"status": "ok", "value": now_mean}, tolerances)
        records.append({**base, "kind": TRAINED, "reference": ref_mean, "now": now_mean, "delta": now_mean - ref_mean,
                        "tolerance": tol, "verdict": verdict, "passed": passed})
    return pd.DataFrame.from_records(records, columns=REPORT_COLUMNS)


def _kinds_by_key(df: pd.DataFrame) -> Dict[Tuple[str, ...], str]:
    kinds = row_kinds(df)
    return {tuple(key_text(row[c]) for c in MATCH_KEY): kind for row, kind in zip(df.to_dict("records"), kinds)}


def _read_nonempty(path: os.PathLike, what: str, fix: str) -> pd.DataFrame:
    return read_nonempty_rows(path, f"the {what} holds nothing to compare; {fix}")


def regress(metrics_csv: os.PathLike, reference_csv: os.PathLike, tolerances_yaml: os.PathLike,
            calibration_yaml: Optional[os.PathLike] = None) -> Tuple[pd.DataFrame, bool]:
    """Compare ``metrics_csv`` with ``reference_csv``; returns (report, passed).

    The report has one row per key in either file (:data:`REPORT_COLUMNS`); ``passed`` is
    False when any row failed (see the module docstring for the rules). Trained rows use the
    variation in ``calibration_yaml``, by default :func:`calibration_path` of the reference
    when that file exists (else their floors). ``report.attrs["device_note"]``:
    :func:`device_mismatch` of the two files, or ``None``; ``report.attrs["calibration"]``:
    the calibration file used, or ``None``.
    """
    reference = _read_nonempty(reference_csv, "reference", "refresh it (README, 'Regression gate')")
    current = _read_nonempty(metrics_csv, "metrics file", "run the pipeline first")
    known = set(current["metric"].astype(str)) | set(reference["metric"].astype(str))
    tolerances = load_tolerances(tolerances_yaml, known_metrics=sorted(known))
    if calibration_yaml is None and calibration_path(reference_csv).is_file():
        calibration_yaml = calibration_path(reference_csv)
    if calibration_yaml is not None:
        tolerances.variation = load_variation(calibration_yaml)
    report = compare(reference, current, tolerances, str(reference_csv), str(metrics_csv))
    matched = ~report["verdict"].isin(["new", "missing"])
    if not matched.any():
        first = describe_key(report.iloc[0]) if len(report) else "none"
        raise DsbenchError(f"{metrics_csv}: none of its {len(current)} rows matches a row of {reference_csv} "
                           f"(first key: {first}); compare the run the reference was made from (e.g. the ci DAG)")
    report.attrs["device_note"] = device_mismatch(current, reference)  # printed by `dsbench regress`
    report.attrs["calibration"] = str(calibration_yaml) if calibration_yaml is not None else None
    return report, bool(report["passed"].all())


def device_mismatch(current: pd.DataFrame, reference: pd.DataFrame) -> Optional[str]:
    """A one-line note when the two sets of rows were made on different devices (see
    :func:`benchmark.results.cpu_fingerprint`), else ``None``."""
    now, then = _unique(current, "device"), _unique(reference, "device")
    if not now or not then or now == then:
        return None
    return (f"note: reference made on {', '.join(then)}, this run on {', '.join(now)}; trained rows "
            f"may differ numerically between CPU models, within their calibrated tolerances")


# ---------------------------------------------------------------------------------------------
# Calibration: how much trained rows vary when only the numerics change


def _deviations(reference: pd.DataFrame, other: pd.DataFrame, source: str,
                seed_as: Optional[int] = None) -> pd.DataFrame:
    """metric, kind, |other - reference| for every key in both (``seed_as``: compare another
    seed's rows with the reference's seed)."""
    if seed_as is not None:
        other = other.copy()
        other["seed"] = pd.array([seed_as] * len(other), dtype="Int64")
    ref_rows, other_rows = _keyed(reference, "reference"), _keyed(other, source)
    kinds = _kinds_by_key(reference)
    records, pairs = [], []
    for key in set(ref_rows) & set(other_rows):
        ref, now = ref_rows[key], other_rows[key]
        if ref["status"] != "ok" or now["status"] != "ok":
            continue
        base = dict(zip(MATCH_KEY, key))
        records.append({"metric": base["metric"], "kind": kinds[key], "key": describe_key(base),
                        "dev": abs(float(now["value"]) - float(ref["value"]))})
        if kinds[key] == TRAINED:
            pairs.append({**base, "reference": float(ref["value"]), "now": float(now["value"])})
    for group_key, group in _mean_groups(pairs).items():
        base = _mean_key(group_key)
        dev = statistics.fmean(p["now"] for p in group) - statistics.fmean(p["reference"] for p in group)
        records.append({"metric": variation_key(base["metric"], MEAN_STAGE), "kind": TRAINED,
                        "key": describe_key(base), "dev": abs(dev)})
    if not records:
        raise DsbenchError(f"{source}: no row matches the reference; calibrate with runs of the reference's DAG")
    return pd.DataFrame.from_records(records)


def calibrate(reference_csv: os.PathLike, kernel_runs: Mapping[str, os.PathLike],
              seed_runs: Mapping[str, os.PathLike], out_yaml: os.PathLike,
              tolerances_yaml: os.PathLike, command: str = "") -> Tuple[Dict[str, Any], str]:
    """Measure how much each trained metric moves (a) under other CPU kernel settings with the
    reference's seed (``kernel_runs``: name -> metrics CSV of the same DAG) and (b) across
    seeds (``seed_runs``), write :func:`calibration_path`-style YAML to ``out_yaml`` and return
    (the data, a Markdown summary). Only (a) sets tolerances; (b) is the scale a tolerance
    must stay well below to mean anything, and checks the row kinds: a training-free row that
    moves with the seed is misclassified, which is an error.
    """
    if not kernel_runs:
        raise DsbenchError("calibrate: give at least one --kernel NAME=CSV run (the same DAG under other CPU settings)")
    reference = _read_nonempty(reference_csv, "reference", "refresh it first")
    seeds = sorted({int(s) for s in reference["seed"].dropna()})
    if len(seeds) != 1:
        raise DsbenchError(f"{reference_csv}: calibration needs a single-seed reference, found seeds {seeds}")
    tolerances = load_tolerances(tolerances_yaml, known_metrics=sorted(set(reference["metric"].astype(str))))
    kernel = pd.concat([_deviations(reference, read_rows(p), str(p)).assign(run=n) for n, p in kernel_runs.items()])
    seed = (pd.concat([_deviations(reference, read_rows(p), str(p), seed_as=seeds[0]).assign(run=n)
                       for n, p in seed_runs.items()]) if seed_runs else pd.DataFrame(columns=kernel.columns))
    for name, devs in (("kernel", kernel), ("seed", seed)):
        free = devs[(devs["kind"] == TRAINING_FREE) & ~devs["metric"].isin(tolerances.ignore)]
        moved = [r for r in free.to_dict("records")
                 if not tolerances.for_metric(r["metric"], METRICS.get(r["metric"], ""), TRAINING_FREE).allows(0.0, r["dev"])]
        if moved:
            r = moved[0]
            raise DsbenchError(f"calibrate: {len(moved)} training-free row(s) moved in the {name} run {r['run']} "
                               f"(first: {r['key']}, by {r['dev']:.3g}); such a row depends on training or on the "
                               f"machine: fix the code or the row kinds (benchmark.regress.row_kinds)")
    metrics: Dict[str, Any] = {}
    trained_kernel = kernel[(kernel["kind"] == TRAINED) & ~kernel["metric"].isin(tolerances.ignore)]
    for metric, group in sorted(trained_kernel.groupby("metric")):
        devs = sorted(group["dev"])
        seed_devs = sorted(seed.loc[(seed["metric"] == metric) & (seed["kind"] == TRAINED), "dev"])
        entry = {
            "rows": int(group["key"].nunique()),
            "kernel_max_abs_dev": float(devs[-1]),
            "kernel_median_abs_dev": float(statistics.median(devs)),
            "kernel_rows_moved": int(sum(d > 0 for d in devs)),
        }
        if seed_devs:
            entry["seed_max_abs_dev"] = float(seed_devs[-1])
            entry["seed_median_abs_dev"] = float(statistics.median(seed_devs))
        tolerances.variation[metric] = entry["kernel_max_abs_dev"]
        base, _, stage = metric.partition(" (")
        entry["tolerance"] = tolerances.for_metric(base, METRICS.get(base, ""), TRAINED,
                                                   MEAN_STAGE if stage else "").describe()
        metrics[metric] = entry
    data = {
        "reference": Path(reference_csv).name,
        "refreshed": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "margin": tolerances.margin,
        "kernel_runs": sorted(kernel_runs),
        "seed_runs": sorted(seed_runs),
        "metrics": metrics,
    }
    header = (f"# Measured variation of the trained rows of {Path(reference_csv).name} (benchmark.regress.calibrate).\n"
              f"# kernel_*: the reference's seed under other CPU kernel settings (sets the tolerance:\n"
              f"# max(floor, margin x kernel_max_abs_dev)); seed_*: other seeds (the scale of training noise).\n")
    atomic_write_text(out_yaml, header + yaml.safe_dump(data, sort_keys=False))
    rows = [[m, e["rows"], _fmt(e["kernel_max_abs_dev"]), _fmt(e["kernel_median_abs_dev"]),
             _fmt(e.get("seed_max_abs_dev", math.nan)), _fmt(e.get("seed_median_abs_dev", math.nan)), e["tolerance"]]
            for m, e in metrics.items()]
    summary = (f"### Calibration of `{reference_csv}`: {len(kernel_runs)} kernel run(s) "
               f"({', '.join(sorted(kernel_runs))}), {len(seed_runs)} seed run(s) ({', '.join(sorted(seed_runs)) or 'none'})\n\n"
               + markdown_table(["metric", "rows", "kernel max", "kernel median", "seed max", "seed median", "tolerance"],
                                rows, "lrrrrrl"))
    return data, summary


# ---------------------------------------------------------------------------------------------
# Text


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{int(value):d}" if float(value).is_integer() and abs(value) >= 1e4 else f"{value:.6g}"


def format_report(df: pd.DataFrame, show_all: bool = False) -> str:
    """A text table (row, metric, reference, now, delta, tolerance, verdict) and a summary line.

    Only rows that need attention are listed unless ``show_all``.
    """
    shown = df if show_all else df[~df["verdict"].isin(QUIET_VERDICTS)]
    header = ["row", "metric", "reference", "now", "delta", "tolerance", "verdict"]
    body = [[describe_key(r, with_metric=False), r["metric"], _fmt(r["reference"]), _fmt(r["now"]), _fmt(r["delta"]),
             r["tolerance"], r["verdict"] + ("" if r["passed"] else " (FAIL)")] for r in shown.to_dict("records")]
    widths = [max([len(h)] + [len(str(b[i])) for b in body]) for i, h in enumerate(header)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [header] + body]
    counts = df["verdict"].value_counts()
    failed = int((~df["passed"]).sum())
    summary = (f"{len(df)} rows: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
               + f"; {'PASSED' if failed == 0 else f'FAILED ({failed} rows)'}")
    return "\n".join(([] if shown.empty else lines + [""]) + [summary]) + "\n"


# ---------------------------------------------------------------------------------------------
# Refreshing the reference


def provenance_path(reference_csv: os.PathLike) -> Path:
    """The sidecar recording where a reference came from: ``metrics.csv`` -> ``metrics.provenance.json``."""
    path = Path(reference_csv)
    return path.with_name(path.stem + ".provenance.json")


def _unique(df: pd.DataFrame, column: str) -> List[str]:
    return sorted({key_text(v) for v in df[column]} - {""})


def refresh_reference(metrics_csv: os.PathLike, reference_csv: os.PathLike) -> str:
    """Copy the current rows to ``reference_csv`` (atomically) and return a Markdown diff.

    Also writes :func:`provenance_path` (JSON): the commit(s), device(s), torch/timm versions
    and creation dates of the rows, the source file and the refresh date. The diff lists every
    value that changed exactly (no tolerance), and every row added or removed.
    """
    current = read_nonempty_rows(metrics_csv, "a reference must hold rows; run the DAG first")
    reference_csv = Path(reference_csv)
    old = read_rows(reference_csv) if reference_csv.is_file() else None
    created = _unique(current, "created")
    sidecar = {
        "source": str(metrics_csv),
        "refreshed": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rows": int(len(current)),
        "commit": _unique(current, "git_sha"),
        "dirty": sorted({key_text(v) for v in current["git_dirty"]} - {""}),
        "device": _unique(current, "device"),
        "torch": _unique(current, "torch"),
        "timm": _unique(current, "timm"),
        "created": [created[0], created[-1]] if created else [],
    }
    # The sidecar last: it describes the reference, so it never describes rows not written.
    write_rows(reference_csv, current)
    atomic_write_text(provenance_path(reference_csv), json.dumps(sidecar, indent=2, sort_keys=True) + "\n")

    title = f"### Reference refresh: `{reference_csv}` from `{metrics_csv}`\n\n"
    where = (f"commit {', '.join(sidecar['commit']) or 'unknown'}; device {', '.join(sidecar['device']) or 'unknown'}; "
             f"torch {', '.join(sidecar['torch']) or 'unknown'}\n\n")
    if old is None:
        return title + where + f"New reference: {len(current)} rows (there was none before).\n"
    exact = Tolerances(training_free_default=Tolerance(abs=0.0), trained_default=Tolerance(abs=0.0), margin=0.0)
    diff = compare(old, current, exact, str(reference_csv), str(metrics_csv))
    diff = diff[diff["stage"] != MEAN_STAGE]  # derived, not stored
    changed = diff[diff["verdict"] != "ok"]
    counts = {"changed": int((~changed["verdict"].isin(["new", "missing"])).sum()),
              "added": int((changed["verdict"] == "new").sum()),
              "removed": int((changed["verdict"] == "missing").sum())}
    summary = (f"{len(old)} -> {len(current)} rows: {counts['changed']} changed, "
               f"{counts['added']} added, {counts['removed']} removed.\n")
    if changed.empty:
        return title + where + summary
    verdict_names = {"new": "added", "missing": "removed"}
    rows = [[describe_key(r), _fmt(r["reference"]), _fmt(r["now"]), _fmt(r["delta"]),
             verdict_names.get(r["verdict"], r["verdict"])] for r in changed.to_dict("records")]
    return title + where + summary + "\n" + markdown_table(["row", "old", "new", "delta", "change"], rows, "lrrrl")
