"""Claims -> measured differences, 95% intervals and verdicts.

For each claim (benchmark.report.claims) and each comparison it expands into, the rows of every
term are found in the metrics; their per-image counts (benchmark.report.counts) give a paired
bootstrap interval (benchmark.report.bootstrap). Verdicts:

* ``reproduced``: the interval lies on the paper's side of zero (``>``: above, ``<``: below), or,
  for a "~" claim, inside ``[-margin, margin]``;
* ``not reproduced``: the interval lies entirely on the other side of zero, or, for "~", entirely
  outside the margin;
* ``inconclusive``: otherwise, or when rows or counts are missing (the reason says which). An
  interval that is exactly [0, 0] is inconclusive too: no resample shows any difference, which on
  the embedded data means both sides measure nothing (e.g. neither method finds the smallest
  objects), so the claim cannot be judged there.

Deterministic quantities (MACs, prior discrepancy; latency, whose repeated timings are not
stored, only their median) get no interval: their verdict compares the value itself.
"""
from __future__ import annotations

import fnmatch
import math
import re
import zlib
from dataclasses import dataclass
from itertools import product
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from benchmark.metrics.confusion import target_ids
from benchmark.report.bootstrap import (DEFAULT_RESAMPLES, DEFAULT_SEED, MAX_UNDEFINED, ConfusionLeaf, MeanLeaf,
                                        Quantity, RatioLeaf, RecallLeaf, paired_bootstrap, percentile_interval)
from benchmark.report.claims import Claim, Term
from benchmark.report.counts import CountsStore, MissingCounts
from benchmark.results import key_text

VERDICTS = ("reproduced", "not reproduced", "inconclusive")
COLUMNS = ["claim", "paper", "dataset", "scope", "metric", "direction", "margin", "measured", "ci_low", "ci_high",
           "paper_value", "verdict", "reason", "seeds", "images"]
# Keys a selection may leave free; terms are paired on the values they share.
JOIN_KEYS = ["method", "model", "resolution", "split", "class_name", "band_px", "size_bin", "n_superpixels", "stage"]
TEXT_COLUMNS = ["run_id", "dataset", "split", "track", "method", "model", "metric", "class_name", "band_px", "size_bin",
                "n_superpixels", "stage", "status", "reason"]
CONFUSION_METRICS = ("miou", "miou_target", "iou", "pixel_accuracy")
INTRINSIC_METRICS = ("miou_intrinsic", "miou_intrinsic_own_unsampler")
PAIR_METRICS = ("boundary_recall", "boundary_precision", "asa", "undersegmentation_error", "compactness",
                "explained_variation", "measured_superpixels")
COUNTED = CONFUSION_METRICS + INTRINSIC_METRICS + PAIR_METRICS + ("trimap_accuracy", "recall_by_size",
                                                                  "class_frequency")
TIMINGS = ("latency_ms", "seconds_per_image", "eval_images_per_s", "train_iters_per_s")


def deterministic_reason(metric: str) -> str:
    if metric in TIMINGS:
        return (f"{metric}: only the median of the repeated timings is stored (benchmark/cost/timing.py), so it is "
                "treated as deterministic: no interval")
    if metric == "peak_memory_mib":
        return "peak_memory_mib is measured once per run: treated as deterministic, no interval"
    return f"{metric} is deterministic: no interval"


class Unavailable(Exception):
    """A comparison cannot be made (the message is the inconclusive verdict's reason)."""


def prepare_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Key columns as text (``key_text``), ``resolution`` as ``HxW``, ``seed`` as int (0 if none)."""
    keep = [c for c in df.columns if c in TEXT_COLUMNS or c in ("height", "width", "seed", "value")]
    out = df[keep].copy()
    for col in TEXT_COLUMNS:
        out[col] = out[col].map(key_text) if col in out.columns else ""
    h, w = out["height"].map(key_text), out["width"].map(key_text)
    out["resolution"] = [f"{a}x{b}" if a and b else "" for a, b in zip(h, w)]
    out["area"] = [int(a) * int(b) if a and b else 0 for a, b in zip(h, w)]
    out["seed"] = pd.to_numeric(out["seed"], errors="coerce").fillna(0).astype(int)
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out


def _is_glob(value: Any) -> bool:
    return isinstance(value, str) and any(c in value for c in "*?[")


def _glob_regex(pattern: str) -> re.Pattern:
    # fnmatch's translation with the wildcards captured: the captured text pairs the terms.
    parts = re.split(r"(\*|\?|\[[^\]]+\])", pattern)
    body = "".join("(.*)" if p == "*" else "(.)" if p == "?" else f"({p})" if p.startswith("[") and p.endswith("]")
                   else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


def fill_glob(pattern: str, captured: str) -> str:
    """The value a glob matched, from its captured text: ``edge_sim_*`` + ``r1`` -> ``edge_sim_r1``."""
    pieces = iter(str(captured).split("|"))
    parts = re.split(r"(\*|\?|\[[^\]]+\])", pattern)
    return "".join(next(pieces, "") if p in ("*", "?") or (p.startswith("[") and p.endswith("]")) else p
                   for p in parts)


def describe(filters: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in filters.items() if k != "dataset")


def select_rows(rows: pd.DataFrame, filters: Dict[str, Any]) -> pd.DataFrame:
    """The rows matching ``filters``; a glob's captured text lands in column ``<key>*``."""
    out = rows
    for key, value in filters.items():
        if key in ("resolution", "classes"):
            continue
        if _is_glob(value):
            regex = _glob_regex(value)
            captured = out[key].map(lambda v: "|".join(m.groups()) if (m := regex.match(v)) else None)
            out = out[captured.notna()].assign(**{f"{key}*": captured[captured.notna()]})
        else:
            out = out[out[key] == key_text(value)]
    classes = filters.get("classes")
    if classes is not None:
        out = out[out["class_name"] != ""] if classes == "all" else out[out["class_name"].isin(classes)]
    resolution = filters.get("resolution")
    if resolution is not None:
        if resolution in ("lowest", "highest"):
            sized = out[out["area"] > 0]
            if sized.empty:
                return sized
            area = sized["area"].min() if resolution == "lowest" else sized["area"].max()
            out = sized[sized["area"] == area]
        else:
            out = out[out["resolution"] == resolution]
    return out


def join_columns(filters: Dict[str, Any], consumed: Sequence[str] = ()) -> List[str]:
    free = [k for k in JOIN_KEYS if k not in filters and k not in consumed]
    if "classes" in filters:
        free = [k for k in free if k != "class_name"]
    return free + [f"{k}*" for k, v in filters.items() if _is_glob(v)]


@dataclass
class Spec:
    """One selection the comparison needs; ``group_by``: a consumed key splitting it into quantities."""

    filters: Dict[str, Any]
    rows: pd.DataFrame
    columns: List[str]
    label: str


def cells(specs: Sequence[Spec]) -> pd.DataFrame:
    """The combinations of free keys every spec has (inner join on shared keys)."""
    frame = None
    for spec in specs:
        distinct = spec.rows[spec.columns].drop_duplicates() if spec.columns else pd.DataFrame(index=[0])
        if frame is None:
            frame = distinct
        else:
            shared = [c for c in spec.columns if c in frame.columns]
            frame = frame.merge(distinct, on=shared, how="inner") if shared else frame.merge(distinct, how="cross")
    return frame.reset_index(drop=True)


def in_cell(spec: Spec, cell: Dict[str, Any]) -> pd.DataFrame:
    out = spec.rows
    for col in spec.columns:
        out = out[out[col] == cell[col]]
    return out


@dataclass
class TermValue:
    row_value: float
    quantity: Optional[Quantity]      # None: counts missing (``missing`` says why)
    missing: str = ""
    deterministic: str = ""           # the reason, for a deterministic quantity


def _row_value(rows: pd.DataFrame, reduce: str) -> float:
    values = rows["value"].to_numpy(dtype=float)
    return float(np.mean(np.abs(values) if reduce == "mean_abs" else values))


class Evaluator:
    def __init__(self, rows: pd.DataFrame, store: CountsStore, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED):
        self.rows = prepare_rows(rows)
        self.by_metric = {metric: frame for metric, frame in self.rows.groupby("metric", sort=False)}
        self.store = store
        self.resamples = resamples
        self.seed = seed

    def select(self, filters: Dict[str, Any]) -> pd.DataFrame:
        metric = filters.get("metric")
        if metric is not None and not _is_glob(metric):  # the most selective key first
            rows = self.by_metric.get(key_text(metric), self.rows.iloc[:0])
            return select_rows(rows, {k: v for k, v in filters.items() if k != "metric"})
        return select_rows(self.rows, filters)

    # ---------------------------------------------------------------- leaves
    def leaf(self, row: pd.Series, group: Optional[pd.DataFrame], filters: Dict[str, Any]):
        metric = row["metric"]
        if metric in CONFUSION_METRICS or metric in ("trimap_accuracy", "recall_by_size"):
            arrays = self.store.suite(row["run_id"], row["split"])
            names = [str(n) for n in arrays["class_names"]]
            ids = arrays.get("image_ids")
            evaluated = arrays.get("evaluated_classes")
            if metric == "miou":
                return ConfusionLeaf(arrays["image_confusion"], "miou", evaluated, ids)
            if metric == "miou_target":
                return ConfusionLeaf(arrays["image_confusion"], "miou",
                                     target_ids(arrays["target_classes"], evaluated), ids)
            if metric == "pixel_accuracy":
                return ConfusionLeaf(arrays["image_confusion"], "pixel_accuracy", None, ids)
            if metric == "iou":
                classes = [names.index(c) for c in (group["class_name"] if group is not None else [row["class_name"]])]
                return ConfusionLeaf(arrays["image_confusion"], "miou" if group is not None else "iou", classes, ids)
            if metric == "trimap_accuracy":
                band = [int(b) for b in arrays["band_widths"]].index(int(row["band_px"]))
                return RatioLeaf(arrays["image_trimap_correct"], arrays["image_trimap_total"], band, ids)
            class_id = None if row["class_name"] == "all" else names.index(row["class_name"])
            return RecallLeaf(arrays["instances"], arrays["instance_image"], len(arrays["image_confusion"]), class_id,
                              int(row["size_bin"].lstrip("q")) - 1, image_ids=ids)
        if metric in INTRINSIC_METRICS or metric == "class_frequency":
            arrays = self.store.intrinsic(row["run_id"], row["split"])
            ids = arrays.get("image_ids")
            try:
                suite = self.store.suite(row["run_id"], row["split"])
                names, evaluated = [str(n) for n in suite["class_names"]], suite.get("evaluated_classes")
            except MissingCounts:
                names, evaluated = None, None
            if metric == "class_frequency":
                if names is None:
                    raise MissingCounts(f"no class names: the counts of {row['run_id']} are missing")
                return RatioLeaf(arrays[f"image_{row['stage']}"], None, names.index(row["class_name"]), ids)
            key = "image_confusion" if metric == "miou_intrinsic" else "image_confusion_own_unsampler"
            return ConfusionLeaf(arrays[key], "miou", evaluated, ids)
        # the superpixel track: the (image, annotator) pairs behind the mean
        pairs = self.store.pairs(row["dataset"], row["method"])
        pairs = pairs[pairs["n_superpixels"].map(key_text) == row["n_superpixels"]]
        if pairs.empty:
            raise MissingCounts(f"no per-image superpixel scores of {row['method']} at n={row['n_superpixels']}")
        images = list(dict.fromkeys(pairs["image_id"].astype(str)))
        position = {image: i for i, image in enumerate(images)}
        return MeanLeaf(pairs[metric].to_numpy(float), pairs["image_id"].astype(str).map(position).to_numpy(),
                        np.array(images))

    def term_value(self, rows: pd.DataFrame, filters: Dict[str, Any], reduce: str, label: str) -> TermValue:
        if rows.empty:
            raise Unavailable(f"no rows for {label}")
        metric = rows["metric"].iloc[0]
        grouped = "classes" in filters
        per_seed = {}
        for seed, seed_rows in rows.groupby("seed", sort=True):
            ok = seed_rows[seed_rows["status"] == "ok"]
            if ok.empty:
                first = seed_rows.iloc[0]
                raise Unavailable(f"{first['run_id']}: {metric} is {first['status']} ({first['reason']})")
            if not grouped and len(seed_rows) > 1:
                runs = ", ".join(sorted(set(seed_rows["run_id"])))
                raise Unavailable(f"{len(seed_rows)} rows match {label} (seed {seed}: {runs}); "
                                  "narrow the claim's selection")
            per_seed[int(seed)] = ok
        row_value = float(np.mean([_row_value(ok, reduce) for ok in per_seed.values()]))
        if metric not in COUNTED:
            return TermValue(row_value, Quantity(constant=row_value), deterministic=deterministic_reason(metric))
        leaves = {}
        try:
            for seed, ok in per_seed.items():
                leaves[seed] = self.leaf(ok.iloc[0], ok if grouped else None, filters)
        except MissingCounts as exc:
            return TermValue(row_value, None, missing=str(exc))
        return TermValue(row_value, Quantity(leaves=leaves))

    # ---------------------------------------------------------------- comparisons
    def compare(self, claim: Claim, dataset: str, scope: str, values: List[TermValue],
                combine: Callable[[List[float]], float]) -> Dict[str, Any]:
        out = {"measured": math.nan, "ci_low": math.nan, "ci_high": math.nan, "seeds": 0, "images": 0}
        missing = [v.missing for v in values if v.quantity is None]
        if missing:
            out["measured"] = combine([v.row_value for v in values])
            return {**out, "verdict": "inconclusive", "reason": missing[0] + " (measured from the stored rows)"}
        quantities = [v.quantity for v in values]
        if not any(q.stochastic for q in quantities):
            out["measured"] = combine([q.constant for q in quantities])
            reasons = sorted({v.deterministic for v in values})
            verdict, why = deterministic_verdict(claim, out["measured"])
            return {**out, "verdict": verdict, "reason": f"{why}; {'; '.join(reasons)}"}
        rng = np.random.default_rng([self.seed, zlib.crc32(f"{claim.id}|{dataset}|{scope}".encode())])
        try:
            full, samples, seeds, images = paired_bootstrap(quantities, combine, self.resamples, rng)
        except ValueError as exc:
            out["measured"] = combine([v.row_value for v in values])
            return {**out, "verdict": "inconclusive", "reason": f"cannot pair the runs: {exc}"}
        low, high, undefined = percentile_interval(samples)
        out.update(measured=full, seeds=seeds, images=images)
        if not math.isfinite(full) or undefined > MAX_UNDEFINED * len(samples):
            return {**out, "verdict": "inconclusive",
                    "reason": f"the difference is undefined on the full evaluation or in {undefined} of {len(samples)} "
                              "resamples (a class or size bin absent, or a quality outside the control's range)"}
        out.update(ci_low=low, ci_high=high)
        verdict, why = interval_verdict(claim, full, low, high)
        return {**out, "verdict": verdict, "reason": why + f" ({seeds} seed(s), {images} images, {len(samples)} "
                                                           "paired resamples)"}

    def difference(self, claim: Claim, select: Dict[str, Any], dataset: str) -> List[Dict[str, Any]]:
        specs = []
        for i, term in enumerate(claim.terms):
            filters = {**select, **term.filters}
            label = describe(filters)
            specs.append(Spec(filters, self.select(filters), join_columns(filters), label))
        weights = [t.weight for t in claim.terms]
        if claim.relative:
            combine = lambda v: v[0] / v[1] - 1 if v[1] else math.nan  # noqa: E731
        else:
            combine = lambda v: float(sum(w * x for w, x in zip(weights, v)))  # noqa: E731
        return self.over_cells(claim, dataset, select, specs, lambda cell_specs: (cell_specs, combine))

    def over_cells(self, claim: Claim, dataset: str, select: Dict[str, Any], specs: List[Spec],
                   build: Callable) -> List[Dict[str, Any]]:
        empty = [s for s in specs if s.rows.empty]
        if empty:
            return [self.result(claim, dataset, "all rows", select, verdict="inconclusive",
                                reason=f"no rows for {empty[0].label}" + self.hint(claim))]
        table = cells(specs)
        if table.empty:
            return [self.result(claim, dataset, "all rows", select, verdict="inconclusive",
                                reason="the selections share no " + "/".join(sorted({c for s in specs for c in s.columns
                                                                                      if not c.endswith("*")}))
                                + " value: pair them explicitly in the claim")]
        results = []
        for cell in table.to_dict("records"):
            patterns = {f"{k}*": v for spec in specs for k, v in spec.filters.items() if _is_glob(v)}
            scope_parts = [f"{k.rstrip('*')}={fill_glob(patterns[k], v) if k in patterns else v}"
                           for k, v in cell.items() if v not in ("", None) and not (k == "split" and v == "val")]
            scope = ", ".join(scope_parts) or "all rows"
            try:
                values, combine = build([(s, in_cell(s, cell)) for s in specs])
                values = [self.term_value(rows, s.filters, claim.reduce, s.label) if isinstance(s, Spec) else s
                          for s, rows in values]
            except Unavailable as exc:
                results.append(self.result(claim, dataset, scope, select, verdict="inconclusive", reason=str(exc)))
                continue
            results.append(self.result(claim, dataset, scope, select,
                                       **self.compare(claim, dataset, scope, values, combine)))
        return results

    def grouped(self, claim: Claim, select: Dict[str, Any], dataset: str, sides: List[Dict[str, Any]],
                consumed: str, combine_groups: Callable[[List[Dict[str, float]]], float]) -> List[Dict[str, Any]]:
        """Specs split by a consumed key (resolution, method): one quantity per (spec, value)."""
        specs = []
        for filters in sides:
            filters = {**select, **filters}
            specs.append(Spec(filters, self.select(filters), join_columns(filters, (consumed,)),
                              describe(filters)))

        def build(cell_specs):
            pieces, layout = [], []
            for spec, rows in cell_specs:
                keys = sorted(set(rows[consumed]), key=lambda v: (rows.loc[rows[consumed] == v, "area"].max(), v))
                if not keys:
                    raise Unavailable(f"no rows for {spec.label}")
                layout.append(keys)
                pieces += [(spec, rows[rows[consumed] == key]) for key in keys]

            def combine(values):
                groups, k = [], 0
                for keys in layout:
                    groups.append(dict(zip(keys, values[k:k + len(keys)])))
                    k += len(keys)
                return combine_groups(groups)

            return pieces, combine

        return self.over_cells(claim, dataset, select, specs, build)

    def cost_at_equal_quality(self, claim: Claim, select: Dict[str, Any], dataset: str):
        sides = [{**claim.treatment, **claim.quality}, {**claim.treatment, **claim.cost},
                 {**claim.control, **claim.quality}, {**claim.control, **claim.cost}]
        return self.grouped(claim, select, dataset, sides, "resolution", cost_gap)

    def rank_disagreement(self, claim: Claim, select: Dict[str, Any], dataset: str):
        sides = [{"method": m, "metric": k} for m in claim.methods for k in claim.metrics]
        n = len(claim.metrics)

        def combine(groups):
            values = [next(iter(g.values())) for g in groups]
            a, b = values[0::n], values[1::n]
            return 1.0 - kendall_tau(a, b)

        return self.grouped(claim, select, dataset, sides, "method", combine)

    # ---------------------------------------------------------------- claims
    def hint(self, claim: Claim) -> str:
        return f" (run the experiment {claim.experiment})" if claim.experiment else ""

    def result(self, claim: Claim, dataset: str, scope: str, select: Dict[str, Any], **values: Any) -> Dict[str, Any]:
        row = {"claim": claim.id, "paper": claim.paper, "dataset": dataset, "scope": scope,
               "metric": select.get("metric") or ",".join(sorted({str(t.filters.get("metric", "")) for t in claim.terms}))
               or str(claim.quality.get("metric", "")) or ",".join(claim.metrics),
               "direction": claim.direction, "margin": claim.margin if claim.margin is not None else math.nan,
               "measured": math.nan, "ci_low": math.nan, "ci_high": math.nan,
               "paper_value": claim.reported if claim.reported is not None else math.nan,
               "seeds": 0, "images": 0}
        row.update(values)
        return row

    def evaluate(self, claim: Claim) -> List[Dict[str, Any]]:
        lists = {k: v for k, v in claim.select.items() if isinstance(v, list) and k != "classes"}
        results = []
        for combo in product(*lists.values()):
            select = {**claim.select, **dict(zip(lists, combo))}
            dataset = key_text(select["dataset"])
            if not (self.rows["dataset"] == dataset).any():
                results.append(self.result(claim, dataset, "all rows", select, verdict="inconclusive",
                                           reason=f"no rows for dataset {dataset}" + self.hint(claim)))
                continue
            method = {"difference": self.difference, "cost_at_equal_quality": self.cost_at_equal_quality,
                      "rank_disagreement": self.rank_disagreement}[claim.kind]
            for row in method(claim, select, dataset):
                if lists:
                    row["scope"] = ", ".join([f"{k}={v}" for k, v in zip(lists, combo)] +
                                             ([row["scope"]] if row["scope"] != "all rows" else []))
                results.append(row)
        return results


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-a of two equally long sequences (ties count 0); NaN with fewer than 2 items."""
    n = len(a)
    if n < 2:
        return math.nan
    total = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i in range(n) for j in range(i + 1, n))
    return float(total / (n * (n - 1) / 2))


def cost_gap(groups: List[Dict[str, float]]) -> float:
    """Mean over the treatment's points of log10(its cost) - log10(the control's cost at its
    quality), the control's (quality, log10 cost) curve interpolated linearly; NaN when no
    treatment point lies within the control's quality range."""
    t_quality, t_cost, c_quality, c_cost = groups
    control = sorted((c_quality[k], math.log10(c_cost[k])) for k in c_quality if k in c_cost and c_cost[k] > 0)
    if len(control) < 2:
        return math.nan
    q, logc = np.array([p[0] for p in control]), np.array([p[1] for p in control])
    gaps = [math.log10(t_cost[k]) - float(np.interp(t_quality[k], q, logc))
            for k in t_quality if k in t_cost and t_cost[k] > 0 and q.min() <= t_quality[k] <= q.max()]
    return float(np.mean(gaps)) if gaps else math.nan


def interval_verdict(claim: Claim, measured: float, low: float, high: float) -> Tuple[str, str]:
    interval = f"95% interval [{low:.4g}, {high:.4g}]"
    if claim.direction == "~":
        m = claim.margin
        if -m <= low and high <= m:
            return "reproduced", f"{interval} lies inside the margin ±{m:g}"
        if low > m or high < -m:
            return "not reproduced", f"{interval} lies outside the margin ±{m:g}"
        return "inconclusive", f"{interval} crosses the margin ±{m:g}"
    sign = 1 if claim.direction == ">" else -1
    lo, hi = sorted((sign * low, sign * high))
    side = "above" if sign > 0 else "below"
    if lo > 0:
        return "reproduced", f"{interval} lies {side} 0, the paper's direction"
    if hi < 0:
        return "not reproduced", f"{interval} lies on the other side of 0"
    if lo == hi == 0:
        return "inconclusive", f"{interval}: no resample shows any difference (both sides measure the same, often nothing)"
    return "inconclusive", f"{interval} includes 0"


def deterministic_verdict(claim: Claim, measured: float) -> Tuple[str, str]:
    if not math.isfinite(measured):
        return "inconclusive", "the difference is undefined"
    if claim.direction == "~":
        inside = abs(measured) <= claim.margin
        return ("reproduced" if inside else "not reproduced"), \
            f"{measured:.4g} is {'inside' if inside else 'outside'} the margin ±{claim.margin:g}"
    ok = measured > 0 if claim.direction == ">" else measured < 0
    return ("reproduced" if ok else "not reproduced"), \
        f"{measured:.4g} is {'on' if ok else 'not on'} the paper's side of 0"


def evaluate_claims(claims: Sequence[Claim], rows: pd.DataFrame, runs_dir=None, *,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One row per (claim, dataset, scope): :data:`COLUMNS`."""
    evaluator = Evaluator(rows, CountsStore(runs_dir), resamples, seed)
    out = [row for claim in claims for row in evaluator.evaluate(claim)]
    return pd.DataFrame(out, columns=COLUMNS)


def overall(verdicts: Sequence[str]) -> str:
    """A claim's verdict over its comparisons: not reproduced if any is, reproduced if all are."""
    verdicts = list(verdicts)
    if any(v == "not reproduced" for v in verdicts):
        return "not reproduced"
    if verdicts and all(v == "reproduced" for v in verdicts):
        return "reproduced"
    return "inconclusive"
