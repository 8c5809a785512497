"""The papers' claims as data (``results/claims.yaml``), validated on load.

A claim names the rows that test it and how: a *treatment* minus a *control* (both selections of
tidy rows), optionally a *contrast* (the same difference at two values of one key, subtracted:
"the gain is larger in narrow bands than in wide ones"), and the paper's direction (``>``, ``<``)
or, for a "~" claim, an equivalence ``margin``. Two other kinds exist for claims that are not a
difference of two numbers: ``cost_at_equal_quality`` (Marin: the treatment's cost against the
control's cost interpolated at the treatment's quality, as a log10 ratio) and
``rank_disagreement`` (Jin: 1 - Kendall's tau between two metrics' rankings of methods).

Selections (``select`` for every term, ``treatment``/``control``/``terms`` per term) take the keys
of :data:`FILTER_KEYS`; a list value expands the claim into one comparison per value (except
``classes``, a group of classes averaged); ``method`` may be a glob (``edge_sim_*``, one comparison
per match). ``resolution`` is ``HxW``, ``lowest`` or ``highest``. Keys a selection leaves free
(model, resolution, split, class, band, ...) pair the terms: one comparison per value they share.

Every error is one line: ``FILE: claim ID key KEY: problem; fix``.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml

from benchmark.errors import DsbenchError

PAPERS = ("marin2019", "jin2022", "alcover2023", "suzuki2021", "wang2022")
KINDS = ("difference", "cost_at_equal_quality", "rank_disagreement")
DIRECTIONS = (">", "<", "~")
FILTER_KEYS = ("dataset", "track", "method", "model", "resolution", "split", "metric", "class_name", "classes",
               "band_px", "size_bin", "n_superpixels", "stage")
REDUCERS = ("mean", "mean_abs")
REPORTED_KEYS = ("source", "dataset", "method", "model", "height", "width", "metric", "class_name", "setting")
CLAIM_KEYS = ("id", "paper", "statement", "where", "figure", "experiment", "select", "kind", "treatment", "control",
              "contrast", "terms", "relative", "reduce", "direction", "margin", "reported", "rule", "quality", "cost",
              "methods", "metrics")
REQUIRED = ("id", "paper", "statement", "where", "select", "direction", "rule")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
RESOLUTION_PATTERN = re.compile(r"^(\d+x\d+|lowest|highest)$")


@dataclass(frozen=True)
class Term:
    """One weighted selection of rows: the measured value is sum(weight * statistic(term))."""

    weight: float
    filters: Mapping[str, Any]


@dataclass
class Claim:
    id: str
    paper: str
    statement: str
    where: str
    rule: str
    direction: str
    select: Dict[str, Any]
    kind: str = "difference"
    terms: List[Term] = field(default_factory=list)
    relative: bool = False
    reduce: str = "mean"
    margin: Optional[float] = None
    figures: List[str] = field(default_factory=list)
    experiment: str = ""
    reported: Optional[float] = None
    reported_source: str = ""
    quality: Dict[str, Any] = field(default_factory=dict)
    cost: Dict[str, Any] = field(default_factory=dict)
    methods: List[str] = field(default_factory=list)
    metrics: List[str] = field(default_factory=list)
    treatment: Dict[str, Any] = field(default_factory=dict)
    control: Dict[str, Any] = field(default_factory=dict)


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, claim_id: str, key: str, problem: str, fix: str) -> None:
        where = f"claim {claim_id!r} key {key!r}" if claim_id else f"key {key!r}"
        raise DsbenchError(f"{self.path}: {where}: {problem}; {fix}")

    def text(self, cid: str, raw: Mapping[str, Any], key: str, required: bool = True) -> str:
        value = raw.get(key)
        if value is None:
            if required:
                self.fail(cid, key, "missing", f"give the claim's {key} (one line of text)")
            return ""
        if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
            self.fail(cid, key, f"{value!r} is not one line of text", f"write the {key} as one non-empty line")
        return value.strip()

    def filters(self, cid: str, key: str, raw: Any, allow: Sequence[str] = FILTER_KEYS,
                lists: bool = False) -> Dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.fail(cid, key, f"{raw!r} is not a mapping", f"give a selection such as {{method: uniform}}")
        out: Dict[str, Any] = {}
        for name, value in raw.items():
            if name not in allow:
                self.fail(cid, f"{key}.{name}", "unknown selection key", f"use one of {', '.join(allow)}")
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and name != "classes" and not lists:
                self.fail(cid, f"{key}.{name}", "is a list", "lists (one comparison per value) go in `select`; "
                          "here give one value or a glob such as edge_sim_*")
            if name == "classes":
                if value != "all" and not (isinstance(value, list) and value and
                                           all(isinstance(v, str) for v in value)):
                    self.fail(cid, f"{key}.{name}", f"{value!r} is not a list of class names",
                              "give classes: [pole, traffic sign] or classes: all")
            elif not values or any(v is None or isinstance(v, (dict, list, bool)) for v in values):
                self.fail(cid, f"{key}.{name}", f"{value!r} is not a value or a list of values",
                          "give a string or number, or a list of them")
            if name == "resolution" and not all(RESOLUTION_PATTERN.match(str(v)) for v in values):
                self.fail(cid, f"{key}.{name}", f"{value!r} is not HxW, lowest or highest",
                          "write e.g. resolution: 32x64")
            if name in ("band_px", "n_superpixels") and not all(isinstance(v, int) for v in values):
                self.fail(cid, f"{key}.{name}", f"{value!r} is not an integer", f"write e.g. {name}: 4")
            out[name] = value
        return out


def _number(checker: _Checker, cid: str, key: str, value: Any, positive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (positive and value <= 0):
        checker.fail(cid, key, f"{value!r} is not a finite number" + (" > 0" if positive else ""),
                     f"write e.g. {key}: 0.02")
    return float(value)


def _reported_value(checker: _Checker, cid: str, raw: Any, paper: str, reported_dir: Optional[Path],
                    relative: bool) -> tuple:
    if raw is None:
        return None, ""
    if not isinstance(raw, Mapping):
        checker.fail(cid, "reported", f"{raw!r} is not a mapping",
                     "give {value: NUMBER, source: WHERE} or {treatment: {...}, control: {...}}")
    unknown = set(raw) - {"value", "source", "treatment", "control"}
    if unknown:
        checker.fail(cid, f"reported.{sorted(unknown)[0]}", "unknown key", "use value, source, treatment, control")
    if "value" in raw:
        value = _number(checker, cid, "reported.value", raw["value"])
        if not isinstance(raw.get("source"), str):
            checker.fail(cid, "reported.source", "missing", "say where in the paper the number is, e.g. Table 3")
        return value, raw["source"]
    if "treatment" not in raw:
        checker.fail(cid, "reported", "has neither value nor treatment",
                     "give {value: NUMBER, source: WHERE} or {treatment: {...}, control: {...}}")
    if reported_dir is None:
        return None, ""
    table_path = reported_dir / f"{paper}.csv"
    if not table_path.is_file():
        checker.fail(cid, "reported", f"{table_path} does not exist", "transcribe the paper's numbers there first")
    import pandas as pd

    table = pd.read_csv(table_path, dtype=str, keep_default_na=False)
    found = []
    for side in ("treatment", "control"):
        if side not in raw:
            continue
        sel = raw[side]
        if not isinstance(sel, Mapping) or not sel:
            checker.fail(cid, f"reported.{side}", f"{sel!r} is not a selection", "give e.g. {source: Table 3, ...}")
        rows = table
        for key, value in sel.items():
            if key not in REPORTED_KEYS:
                checker.fail(cid, f"reported.{side}.{key}", "unknown column", f"use one of {', '.join(REPORTED_KEYS)}")
            if key == "setting":
                rows = rows[rows[key].str.contains(str(value), regex=False)]
            else:
                rows = rows[rows[key] == str(value)]
        if len(rows) != 1:
            checker.fail(cid, f"reported.{side}", f"matches {len(rows)} rows of {table_path}",
                         "narrow it (source, model, height, width, class_name, setting) to exactly one row")
        found.append(float(rows["value"].iloc[0]))
        source = str(rows["source"].iloc[0])
    if len(found) == 1:
        return found[0], source
    value = found[0] / found[1] - 1 if relative else found[0] - found[1]
    return value, source


def _terms(checker: _Checker, cid: str, raw: Mapping[str, Any]) -> List[Term]:
    if "terms" in raw:
        if any(k in raw for k in ("treatment", "control", "contrast")):
            checker.fail(cid, "terms", "given with treatment/control/contrast", "give terms alone, or drop terms")
        terms = raw["terms"]
        if not isinstance(terms, list) or not terms:
            checker.fail(cid, "terms", "is not a non-empty list", "give a list of {weight: 1, method: ...}")
        out = []
        for i, term in enumerate(terms):
            if not isinstance(term, Mapping):
                checker.fail(cid, f"terms[{i}]", f"{term!r} is not a mapping", "give {weight: 1, method: ...}")
            term = dict(term)
            weight = _number(checker, cid, f"terms[{i}].weight", term.pop("weight", None))
            out.append(Term(weight, checker.filters(cid, f"terms[{i}]", term)))
        return out
    if "treatment" not in raw:
        checker.fail(cid, "treatment", "missing", "give the rows the paper's method stands for, e.g. {method: edge_based}")
    treatment = checker.filters(cid, "treatment", raw["treatment"])
    control = checker.filters(cid, "control", raw.get("control")) if raw.get("control") is not None else None
    pairs = [(1.0, treatment)] + ([(-1.0, control)] if control is not None else [])
    contrast = raw.get("contrast")
    if contrast is None:
        return [Term(w, f) for w, f in pairs]
    if not isinstance(contrast, Mapping) or len(contrast) != 1:
        checker.fail(cid, "contrast", f"{contrast!r} is not one key with two values",
                     "give e.g. contrast: {band_px: [1, 32]} (first minus second)")
    (key, values), = contrast.items()
    if key not in FILTER_KEYS or not isinstance(values, list) or len(values) != 2:
        checker.fail(cid, f"contrast.{key}", f"{values!r} is not two values of a selection key",
                     "give e.g. contrast: {band_px: [1, 32]}")
    for value in values:
        checker.filters(cid, f"contrast.{key}", {key: value})
    return [Term(w * s, {**f, key: v}) for s, v in ((1.0, values[0]), (-1.0, values[1])) for w, f in pairs]


def parse_claim(checker: _Checker, raw: Any, index: int, reported_dir: Optional[Path]) -> Claim:
    if not isinstance(raw, Mapping):
        checker.fail(f"#{index + 1}", "claims", f"entry {index + 1} is not a mapping", "give id, paper, statement, ...")
    cid = raw.get("id")
    if not isinstance(cid, str) or not ID_PATTERN.match(cid):
        checker.fail(f"#{index + 1}", "id", f"{cid!r} is not a snake_case id", "give e.g. id: marin_edge_gt_uniform")
    for key in raw:
        if key not in CLAIM_KEYS:
            checker.fail(cid, key, "unknown key", f"use one of {', '.join(CLAIM_KEYS)}")
    for key in REQUIRED:
        if key not in raw:
            checker.fail(cid, key, "missing", f"every claim needs {', '.join(REQUIRED)}")
    paper = raw["paper"]
    if paper not in PAPERS:
        checker.fail(cid, "paper", f"{paper!r} is not a known paper", f"use one of {', '.join(PAPERS)}")
    kind = raw.get("kind", "difference")
    if kind not in KINDS:
        checker.fail(cid, "kind", f"{kind!r} is not a claim kind", f"use one of {', '.join(KINDS)}")
    direction = raw["direction"]
    if direction not in DIRECTIONS:
        checker.fail(cid, "direction", f"{direction!r} is not a direction",
                     "use '>' (treatment above control), '<' or '~' (equivalent within margin)")
    margin = raw.get("margin")
    if direction == "~":
        margin = _number(checker, cid, "margin", margin, positive=True)
    elif margin is not None:
        checker.fail(cid, "margin", f"given for direction {direction!r}", "drop it, or use direction '~'")
    select = checker.filters(cid, "select", raw["select"], lists=True)
    if "dataset" not in select:
        checker.fail(cid, "select.dataset", "missing", "name the dataset the claim is tested on, e.g. synthcity")
    relative = raw.get("relative", False)
    if not isinstance(relative, bool):
        checker.fail(cid, "relative", f"{relative!r} is not true or false", "write relative: true (treatment/control - 1)")
    reduce = raw.get("reduce", "mean")
    if reduce not in REDUCERS:
        checker.fail(cid, "reduce", f"{reduce!r} is not a reducer", f"use one of {', '.join(REDUCERS)}")
    figures = raw.get("figure") or []
    figures = [figures] if isinstance(figures, str) else figures
    if not isinstance(figures, list) or not all(isinstance(f, str) and ID_PATTERN.match(f) for f in figures):
        checker.fail(cid, "figure", f"{raw.get('figure')!r} is not a figure id or a list of them",
                     "give the id of a figure in the figures dir, e.g. marin_trimap")
    claim = Claim(id=cid, paper=paper, statement=checker.text(cid, raw, "statement"),
                  where=checker.text(cid, raw, "where"), rule=checker.text(cid, raw, "rule"),
                  direction=direction, select=select, kind=kind, relative=relative, reduce=reduce, margin=margin,
                  figures=list(figures), experiment=checker.text(cid, raw, "experiment", required=False))
    if kind == "difference":
        claim.terms = _terms(checker, cid, raw)
        if relative and (len(claim.terms) != 2 or "contrast" in raw):
            checker.fail(cid, "relative", "needs exactly a treatment and a control", "drop relative or the contrast")
        for i, term in enumerate(claim.terms):
            if "metric" not in term.filters and "metric" not in select:
                checker.fail(cid, "select.metric", "missing", "name the metric in select (or in every term)")
    else:
        for key in ("terms", "contrast"):
            if key in raw:
                checker.fail(cid, key, f"not used by kind {kind}", "drop it")
    if kind == "cost_at_equal_quality":
        for key in ("treatment", "control", "quality", "cost"):
            if not isinstance(raw.get(key), Mapping):
                checker.fail(cid, key, "missing", f"kind {kind} needs treatment, control, quality and cost selections")
        claim.treatment = checker.filters(cid, "treatment", raw["treatment"])
        claim.control = checker.filters(cid, "control", raw["control"])
        claim.quality = checker.filters(cid, "quality", raw["quality"])
        claim.cost = checker.filters(cid, "cost", raw["cost"])
        for key in ("quality", "cost"):
            if "metric" not in getattr(claim, key):
                checker.fail(cid, f"{key}.metric", "missing", "name the metric, e.g. quality: {metric: miou}")
    if kind == "rank_disagreement":
        methods, metrics = raw.get("methods"), raw.get("metrics")
        if not isinstance(methods, list) or len(methods) < 2 or not all(isinstance(m, str) for m in methods):
            checker.fail(cid, "methods", f"{methods!r} is not a list of two or more methods", "list the methods ranked")
        if not isinstance(metrics, list) or len(metrics) != 2 or not all(isinstance(m, str) for m in metrics):
            checker.fail(cid, "metrics", f"{metrics!r} is not two metrics", "give e.g. metrics: [miou_intrinsic, miou]")
        claim.methods, claim.metrics = list(methods), list(metrics)
    claim.reported, claim.reported_source = _reported_value(checker, cid, raw.get("reported"), paper, reported_dir,
                                                            relative)
    return claim


def load_claims(path: os.PathLike, reported_dir: Optional[os.PathLike] = None) -> List[Claim]:
    """The claims of ``path``, validated; ``reported_dir`` (results/reported) resolves the papers'
    numbers a claim selects there (None: left unresolved)."""
    path = Path(path)
    checker = _Checker(path)
    if not path.is_file():
        raise DsbenchError(f"{path}: no such claims file; give --claims FILE (default results/claims.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise DsbenchError(f"{path}: not valid YAML{line} ({getattr(exc, 'problem', None) or exc.__class__.__name__}); "
                           "fix the syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DsbenchError(f"{path}: cannot read the claims file ({exc.__class__.__name__})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("claims"), list) or not data["claims"]:
        checker.fail("", "claims", "missing or empty", "the file must hold `claims:` with a list of claims")
    unknown = set(data) - {"claims"}
    if unknown:
        checker.fail("", sorted(unknown)[0], "unknown top-level key", "the file holds only `claims:`")
    reported = Path(reported_dir) if reported_dir is not None else None
    claims, seen = [], set()
    for i, raw in enumerate(data["claims"]):
        claim = parse_claim(checker, raw, i, reported)
        if claim.id in seen:
            checker.fail(claim.id, "id", "is given twice", "give each claim its own id")
        seen.add(claim.id)
        claims.append(claim)
    return claims
