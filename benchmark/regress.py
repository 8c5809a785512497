"""Regression check: compare the current tidy rows with a golden reference.

Rows are matched on identity + measurement keys (:data:`MATCH_KEY`: everything except
``run_id``, the value and the provenance columns). Per matched row:

* integer metrics (unit ``MAC``, ``FLOP`` or ``count``) must be equal;
* float metrics must agree within the metric's tolerance from the YAML file
  (``|now - reference| <= abs + rel * |reference|``), in EITHER direction: a number that moves
  out of tolerance fails as ``worse`` or, just as loudly, as suspiciously ``better``;
* metrics listed under ``ignore:`` (timings) are reported but never fail;
* a reference row that is missing now fails (``missing``); a new row passes (``new``);
* a row that was ok and is now skipped/failed fails (``status ok->failed``).

Tolerance file (``workflows/tolerances.yaml``)::

    default: {abs: 1.0e-4}        # every float metric without its own entry
    miou: {abs: 0.005}            # per metric: abs and/or rel
    ignore: [latency_ms, ...]     # never compared

Nothing here imports torch.
"""
from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import pandas as pd
import yaml

from benchmark.errors import DsbenchError
from benchmark.results import IDENTITY, MEASUREMENT, METRICS, atomic_write_text, read_rows, write_rows

# What .ci/run exports so that every x86 machine with AVX2 trains with the same kernels.
CI_NUMERICS = "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2"

# Identity + measurement keys a row is matched on (run ids and provenance differ between runs).
MATCH_KEY: List[str] = [c for c in IDENTITY if c != "run_id"] + [c for c in MEASUREMENT if c != "value"]
INTEGER_UNITS: FrozenSet[str] = frozenset({"MAC", "FLOP", "count"})
# Direction in which a metric improves, to tell "worse" from "better"; others are "changed".
LOWER_IS_BETTER: FrozenSet[str] = frozenset({
    "macs", "flops", "params", "unsupported_ops", "latency_ms", "peak_memory_mib", "train_loss",
})
NO_DIRECTION: FrozenSet[str] = frozenset({"class_frequency", "prior_discrepancy"})
REPORT_COLUMNS: List[str] = MATCH_KEY + ["reference", "now", "delta", "tolerance", "verdict", "passed"]
# Verdicts that need no attention in a report.
QUIET_VERDICTS: FrozenSet[str] = frozenset({"ok", "ignored"})


@dataclass(frozen=True)
class Tolerance:
    """Allowed ``|now - reference|``: ``abs + rel * |reference|``; ``exact`` for integers."""

    abs: float = 0.0
    rel: float = 0.0
    exact: bool = False

    def allows(self, reference: float, now: float) -> bool:
        if self.exact:
            return reference == now
        return abs(now - reference) <= self.abs + self.rel * abs(reference)

    def describe(self) -> str:
        if self.exact:
            return "exact"
        parts = [f"abs {self.abs:g}"] if self.abs or not self.rel else []
        return ", ".join(parts + ([f"rel {self.rel:g}"] if self.rel else []))


@dataclass
class Tolerances:
    default: Tolerance = field(default_factory=lambda: Tolerance(abs=1e-4))
    per_metric: Dict[str, Tolerance] = field(default_factory=dict)
    ignore: FrozenSet[str] = frozenset()

    def for_metric(self, metric: str, unit: str) -> Tolerance:
        if unit in INTEGER_UNITS or METRICS.get(metric) in INTEGER_UNITS:
            return Tolerance(exact=True)
        return self.per_metric.get(metric, self.default)


def _parse_tolerance(spec: Any, where: str) -> Tolerance:
    if not isinstance(spec, Mapping) or not spec:
        raise DsbenchError(f"{where}: expected a mapping like {{abs: 0.005}} or {{rel: 0.01}}, got {spec!r}")
    unknown = set(spec) - {"abs", "rel"}
    if unknown:
        raise DsbenchError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; use abs and/or rel")
    values = {}
    for key, raw in spec.items():
        try:  # YAML 1.1 reads "1e-4" (no dot) as a string: accept it anyway
            values[key] = float(raw)
        except (TypeError, ValueError):
            raise DsbenchError(f"{where}.{key}: {raw!r} is not a number; write e.g. 0.005") from None
        if not math.isfinite(values[key]) or values[key] < 0:
            raise DsbenchError(f"{where}.{key}: {raw!r} must be a finite number >= 0")
    return Tolerance(abs=values.get("abs", 0.0), rel=values.get("rel", 0.0))


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
        raise DsbenchError(f"{path}: expected a mapping of metric -> {{abs, rel}}, default and ignore")
    known = set(METRICS) | set(known_metrics)
    tolerances = Tolerances()
    ignore = raw.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(m, str) for m in ignore):
        raise DsbenchError(f"{path}: 'ignore' must be a list of metric names")
    for key, spec in raw.items():
        if key == "ignore":
            continue
        if key == "default":
            tolerances.default = _parse_tolerance(spec, f"{path}: default")
            continue
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "add it to benchmark.results.METRICS first"
            raise DsbenchError(f"{path}: unknown metric {key!r}; {hint}")
        tolerances.per_metric[key] = _parse_tolerance(spec, f"{path}: {key}")
    for metric in ignore:
        if metric not in known:
            close = difflib.get_close_matches(metric, sorted(known), n=3)
            raise DsbenchError(f"{path}: ignore lists unknown metric {metric!r}"
                               + (f"; did you mean {', '.join(close)}?" if close else ""))
    tolerances.ignore = frozenset(ignore)
    return tolerances


# ---------------------------------------------------------------------------------------------
# Matching


def key_text(value: Any) -> str:
    # One spelling per key value: "" for missing, ints without ".0" (CSV round trips differ).
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
    """``synthcity/val edge_based deeplab 64x128 seed 0 miou stage=total``."""
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


def _verdict(metric: str, unit: str, ref: Mapping[str, Any], now: Mapping[str, Any],
             tolerances: Tolerances) -> Tuple[str, bool, str]:
    """(verdict, passed, tolerance text) for a matched pair of rows."""
    if metric in tolerances.ignore:
        return "ignored", True, "ignored"
    tol = tolerances.for_metric(metric, unit)
    if ref["status"] != now["status"]:
        # Recovering (-> ok) passes: it is a new number; any loss of a number fails.
        return f"status {ref['status']}->{now['status']}", now["status"] == "ok", tol.describe()
    if ref["status"] != "ok":
        return "ok", True, tol.describe()
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
    """Row-by-row comparison; columns :data:`REPORT_COLUMNS`, sorted by key."""
    ref_rows, now_rows = _keyed(reference, reference_name), _keyed(current, current_name)
    records = []
    for key in sorted(set(ref_rows) | set(now_rows), key=_natural):
        ref, now = ref_rows.get(key), now_rows.get(key)
        base = dict(zip(MATCH_KEY, key))
        metric, unit = base["metric"], base["unit"]
        ref_value = float(ref["value"]) if ref is not None and ref["status"] == "ok" else math.nan
        now_value = float(now["value"]) if now is not None and now["status"] == "ok" else math.nan
        if now is None:
            verdict, passed, tol = "missing", metric in tolerances.ignore, ""
        elif ref is None:
            verdict, passed, tol = "new", True, ""
        else:
            verdict, passed, tol = _verdict(metric, unit, ref, now, tolerances)
        records.append({**base, "reference": ref_value, "now": now_value, "delta": now_value - ref_value,
                        "tolerance": tol, "verdict": verdict, "passed": passed})
    return pd.DataFrame.from_records(records, columns=REPORT_COLUMNS)


def regress(metrics_csv: os.PathLike, reference_csv: os.PathLike,
            tolerances_yaml: os.PathLike) -> Tuple[pd.DataFrame, bool]:
    """Compare ``metrics_csv`` with ``reference_csv``; returns (report, passed).

    The report has one row per key in either file (:data:`REPORT_COLUMNS`); ``passed`` is
    False when any row failed (see the module docstring for the rules). ``report.attrs
    ["device_note"]``: :func:`device_mismatch` of the two files, or ``None``.
    """
    current, reference = read_rows(metrics_csv), read_rows(reference_csv)
    known = set(current["metric"].astype(str)) | set(reference["metric"].astype(str))
    tolerances = load_tolerances(tolerances_yaml, known_metrics=sorted(known))
    report = compare(reference, current, tolerances, str(reference_csv), str(metrics_csv))
    report.attrs["device_note"] = device_mismatch(current, reference)  # printed by `dsbench regress`
    return report, bool(report["passed"].all())


def device_mismatch(current: pd.DataFrame, reference: pd.DataFrame) -> Optional[str]:
    """A one-line warning when the two sets of rows were made on different devices (see
    :func:`benchmark.results.cpu_fingerprint`), else ``None``."""
    now, then = _unique(current, "device"), _unique(reference, "device")
    if not now or not then or now == then:
        return None
    return (f"note: reference made on {', '.join(then)}, this run on {', '.join(now)}; CPU numbers are "
            f"reproducible within one instruction set only, so differences may be numerical: run both with "
            f"the CI pins ({CI_NUMERICS}) or refresh the reference on this machine")


# ---------------------------------------------------------------------------------------------
# Text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A GitHub Markdown table; ``align`` is one letter per column (``l``/``r``), default l then r."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(rule)] + [line(r) for r in rows]) + "\n"


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
    current = read_rows(metrics_csv)
    reference_csv = Path(reference_csv)
    old = read_rows(reference_csv) if reference_csv.is_file() else None
    write_rows(reference_csv, current)
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
    atomic_write_text(provenance_path(reference_csv), json.dumps(sidecar, indent=2, sort_keys=True) + "\n")

    title = f"### Reference refresh: `{reference_csv}` from `{metrics_csv}`\n\n"
    where = (f"commit {', '.join(sidecar['commit']) or 'unknown'}; device {', '.join(sidecar['device']) or 'unknown'}; "
             f"torch {', '.join(sidecar['torch']) or 'unknown'}\n\n")
    if old is None:
        return title + where + f"New reference: {len(current)} rows (there was none before).\n"
    exact = Tolerances(default=Tolerance(abs=0.0))
    diff = compare(old, current, exact, str(reference_csv), str(metrics_csv))
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
