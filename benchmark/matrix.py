"""The run matrix: workflows/config.yaml with the named experiment applied and grids expanded,
validated against workflows/schema/config.schema.yaml.

``build_matrix(config)`` is what the Snakefile runs (workflows/common.smk) and what tests and
tools call to learn which runs a config asks for. Every problem is a one-line
:class:`~benchmark.errors.DsbenchError` naming the key path as written in the config file
(``experiments.ci.train.iters``, ``methods.deformation.grid.sigma_frac``, ``resolutions[0]``)
and the fix. No torch here: the figures-only DAG builds the matrix too.

Grids. A method entry may carry ``grid`` (option -> list of values, or a list of such grids
expanded one after another) and ``train_grid`` (train setting -> list of values). The entry is
replaced by one variant per point of the Cartesian product of its grid and train grid, labelled
``<entry label>_<key><value>`` for each grid key in sorted order, e.g. ``deformation_sigma_frac0p08``
or ``uniform_batch_size8``. An empty grid ``{}`` in a list is the point with nothing changed: the
entry itself under its own label.

Per-entry models and resolutions. Every method entry runs on every top-level ``models`` entry at
every top-level ``resolutions`` entry, unless it sets its own ``models`` / ``resolutions`` (same
form as the top-level keys), which replace those for that entry alone (:func:`run_keys`).

Per-dataset methods, resolutions and target classes. A dataset entry may name the method labels
that run on it (``methods: [uniform, ...]``, labels of the built matrix; absent: every entry), the
``resolutions`` that replace the top-level ones on it (an entry's own ``resolutions`` still win) and
its own ``target_classes`` (Marin's ``miou_target``; absent: the top-level list), e.g. synthaerial,
whose land-cover classes have none of the street classes the top-level list names.
"""
from __future__ import annotations

import copy
import difflib
import functools
import itertools
import math
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

import yaml

from benchmark.errors import DsbenchError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflows" / "schema" / "config.schema.yaml"
# A string grid value goes into the label as it is, hyphens as underscores (soft-bicubic).
_LABEL_WORD = re.compile(r"^[a-z0-9_-]+$")

KeyPath = Tuple[Union[str, int], ...]


def build_matrix(config: Mapping[str, Any]) -> Dict[str, Any]:
    """The matrix that will run: ``config`` with ``config["experiment"]``'s overrides replacing
    whole top-level keys, every grid expanded into labelled variants, validated.

    The whole config (every experiment included, as partial configs) is validated first, so a
    mistake in an experiment is found even when another one runs; the merged, expanded matrix is
    validated again and its errors are named where they were written (the experiment's key, the
    grid's value). ``config`` is not modified.
    """
    reject_non_finite(config, ())
    validate(config)
    experiment = config.get("experiment") or ""
    experiments = config.get("experiments") or {}
    if experiment and experiment not in experiments:
        raise DsbenchError(
            f"experiment: unknown experiment {experiment!r}; use one defined under experiments: "
            f"{', '.join(sorted(experiments)) or 'none'}"
        )
    overrides = experiments.get(experiment, {}) if experiment else {}
    matrix = copy.deepcopy({**config, **overrides})

    def source(path: KeyPath) -> KeyPath:
        # A top-level key the experiment set was written under experiments.<name>.
        return ("experiments", experiment, *path) if path and path[0] in overrides else path

    methods_source = ("experiments", experiment, "methods") if "methods" in overrides else ("methods",)
    matrix["methods"], provenance = expand_methods(matrix["methods"], methods_source)

    def written_at(path: KeyPath) -> KeyPath:
        if len(path) >= 2 and path[0] == "methods" and path[1] in provenance:
            return provenance[path[1]](path[2:])
        return source(path)

    validate(matrix, written_at)
    check_dataset_methods(matrix, source)
    check_train_by_resolution(matrix, source)
    return matrix


def check_dataset_methods(matrix: Mapping[str, Any], source) -> None:
    """A dataset's ``methods`` must name labels of the matrix: a typo would silently run nothing."""
    for dataset, entry in matrix["datasets"].items():
        for index, label in enumerate(entry.get("methods", [])):
            if label not in matrix["methods"]:
                close = difflib.get_close_matches(label, list(matrix["methods"]), n=1)
                guess = f"did you mean {close[0]}? " if close else ""
                raise DsbenchError(
                    f"{dotted(source(('datasets', dataset, 'methods', index)))}: {label} is not a method label of "
                    f"this run; {guess}use one of {', '.join(matrix['methods']) or 'none'} (an experiment with other "
                    f"methods sets its own datasets:)")


def dataset_methods(matrix: Mapping[str, Any], dataset: str) -> List[str]:
    """The method labels that run on ``dataset``, in the matrix's order: its ``methods`` where set."""
    allowed = matrix["datasets"][dataset].get("methods")
    return [label for label in matrix["methods"] if allowed is None or label in allowed]


def run_resolutions(matrix: Mapping[str, Any], dataset: str, label: str) -> List[str]:
    """The resolutions of ``label`` on ``dataset``: the entry's own, else the dataset's, else the top-level ones."""
    entry = matrix["methods"][label]
    if "resolutions" in entry:
        return entry["resolutions"]
    return matrix["datasets"][dataset].get("resolutions", matrix["resolutions"])


def dataset_target_classes(matrix: Mapping[str, Any], dataset: str) -> List[str]:
    """Marin's target classes for ``dataset``: its own ``target_classes``, else the top-level list."""
    entry = matrix["datasets"][dataset]
    return list(entry["target_classes"] if "target_classes" in entry else matrix.get("target_classes", []))


def check_train_by_resolution(matrix: Mapping[str, Any], source) -> None:
    """A ``train_by_resolution`` key that no run has is a typo: it would silently change nothing."""
    used = set(matrix["resolutions"]) | {res for entry in matrix["methods"].values()
                                         for res in entry.get("resolutions", [])} | {
        res for entry in matrix["datasets"].values() for res in entry.get("resolutions", [])}
    for resolution in matrix.get("train_by_resolution", {}):
        if resolution not in used:
            raise DsbenchError(f"{dotted(source(('train_by_resolution', resolution)))}: no run has resolution "
                               f"{resolution}; use one of {', '.join(sorted(used))} or remove the entry")


def run_train_settings(matrix: Mapping[str, Any], label: str, resolution: str) -> Dict[str, Any]:
    """The train settings of one run: ``train``, then its method entry's ``train``, then
    ``train_by_resolution`` of its resolution."""
    return {**matrix["train"], **matrix["methods"][label].get("train", {}),
            **matrix.get("train_by_resolution", {}).get(resolution, {})}


def run_keys(matrix: Mapping[str, Any]) -> List[Tuple[str, str, str, str, int]]:
    """Every (dataset, method label, model, resolution, seed) of a built matrix, in DAG order:
    each dataset with its methods (:func:`dataset_methods`), each method entry on its own
    ``models`` and ``resolutions`` where it sets them, else on the dataset's resolutions or the
    top-level ones (:func:`run_resolutions`)."""
    return [(dataset, label, model, resolution, seed)
            for dataset in matrix["datasets"]
            for label in dataset_methods(matrix, dataset)
            for model in entry_models(matrix, label)
            for resolution in run_resolutions(matrix, dataset, label)
            for seed in matrix["seeds"]]


def entry_models(matrix: Mapping[str, Any], label: str) -> Mapping[str, Mapping[str, Any]]:
    """Model name -> model entry (its encoder) that the method entry ``label`` runs on.

    A method entry's own ``models`` replaces the top-level ``models`` for that entry (Suzuki's
    HC runs need ResNet models, the other methods the default U-Net)."""
    return matrix["methods"][label].get("models", matrix["models"])


# --- grids ---------------------------------------------------------------------------------


def expand_methods(methods: Mapping[str, Mapping[str, Any]], where: KeyPath):
    """Replace every entry with a grid by its variants. Returns the methods and, per generated
    label, a function mapping a key path inside the variant to where it was written."""
    expanded: Dict[str, Dict[str, Any]] = {}
    provenance: Dict[str, Any] = {}
    # Where each label came from, to name both sides of a collision.
    written: Dict[str, str] = {label: dotted((*where, label)) for label, entry in methods.items()
                               if "grid" not in entry and "train_grid" not in entry}
    for label, entry in methods.items():
        entry_path = (*where, label)
        if "grid" not in entry and "train_grid" not in entry:
            expanded[label] = copy.deepcopy(dict(entry))
            continue
        for variant_label, variant, origin in grid_variants(label, entry, entry_path):
            first = origin[next(iter(origin))] if origin else entry_path
            if variant_label in written and written[variant_label] != dotted(entry_path):
                raise DsbenchError(
                    f"{dotted(first)}: generated label {variant_label} is also {written[variant_label]}; "
                    f"rename one of the entries or drop the repeated value")
            if variant_label in expanded:
                raise DsbenchError(
                    f"{dotted(first)}: generated label {variant_label} twice in {dotted(entry_path)}; "
                    f"drop the repeated grid point (values are spelled in labels: 1 and 1.0 both read 1)")
            written[variant_label] = dotted(entry_path)
            expanded[variant_label] = variant
            provenance[variant_label] = functools.partial(_variant_source, entry_path, origin)
    return expanded, provenance


def _variant_source(entry_path: KeyPath, origin: Mapping[KeyPath, KeyPath], inner: KeyPath) -> KeyPath:
    for prefix, written in origin.items():
        if inner[:len(prefix)] == prefix:
            return written
    return (*entry_path, *inner)


def grid_variants(label: str, entry: Mapping[str, Any], entry_path: KeyPath):
    """Yield (label, entry, origin) for every point of ``entry``'s grids; ``origin`` maps
    ("options", key) / ("train", key) of the variant to the grid value it came from."""
    grids = entry.get("grid", {})
    # One grid, or several expanded one after another (one-at-a-time sweeps).
    numbered = [(None, grids)] if isinstance(grids, Mapping) else list(enumerate(grids))
    train_grid = entry.get("train_grid", {})
    base = {k: copy.deepcopy(v) for k, v in entry.items() if k not in ("grid", "train_grid")}
    train_path = (*entry_path, "train_grid")
    for key in train_grid:
        if key in entry.get("train", {}):
            raise DsbenchError(f"{dotted((*train_path, key))}: also set in {dotted((*entry_path, 'train', key))}; "
                               f"set it in one place")
    for index, grid in numbered:
        grid_path = (*entry_path, "grid") if index is None else (*entry_path, "grid", index)
        axes = []  # (key, section of the variant it sets, values, where the values were written)
        for key, values in grid.items():
            if key in entry.get("options", {}):
                raise DsbenchError(f"{dotted((*grid_path, key))}: also set in "
                                   f"{dotted((*entry_path, 'options', key))}; set it in one place")
            if key in train_grid:
                raise DsbenchError(f"{dotted((*grid_path, key))}: also in {dotted((*train_path, key))}; "
                                   f"a label could not tell them apart, sweep it in one grid")
            axes.append((key, "options", values, (*grid_path, key)))
        axes += [(key, "train", values, (*train_path, key)) for key, values in train_grid.items()]
        axes.sort(key=lambda axis: axis[0])
        for point in itertools.product(*(range(len(axis[2])) for axis in axes)):
            variant = copy.deepcopy(base)
            words = [label]
            origin: Dict[KeyPath, KeyPath] = {}
            for (key, section, values, values_path), i in zip(axes, point):
                value = values[i]
                words.append(f"{key}{label_word(value, (*values_path, i))}")
                variant.setdefault(section, {})[key] = copy.deepcopy(value)
                origin[(section, key)] = (*values_path, i)
            # A label by construction: the schema checked the entry label and the keys, and
            # label_word spells every value; the expanded matrix's own validation re-checks it.
            yield "_".join(words), variant, origin


def label_word(value: Any, path: KeyPath) -> str:
    """A grid value as it reads in a label: 0.08 -> 0p08, -1 -> m1, 1.0 -> 1, True -> true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value).replace("-", "m")
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value)).replace("-", "m")
        # repr: the shortest text that reads back as the same float (0.08, not 0.0800000001).
        return repr(value).replace("-", "m").replace(".", "p").replace("+", "")
    if isinstance(value, str) and _LABEL_WORD.match(value):
        return value.replace("-", "_")
    raise DsbenchError(f"{dotted(path)}: {value!r} cannot be spelled in a label; use numbers, booleans "
                       f"or lower-case words, or write the variant as its own entry with its own label")


# --- validation ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def load_schema(path: Path = SCHEMA_PATH) -> Dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def validate(config: Mapping[str, Any], written_at=lambda path: path) -> None:
    """Raise a one-line DsbenchError for the first schema violation; ``written_at`` maps a key
    path in ``config`` to where the user wrote it."""
    import jsonschema  # here, not at import: the module is imported by tools that never validate

    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(config))
    if not errors:
        return
    # A misspelt or unknown key comes first: it also causes the "required key is missing" of
    # the key it was meant to be. Then the most specific problem (the deepest path, an
    # experiment's key counted from the top-level key it replaces), the top level before an
    # experiment: an experiment that shares entries with the top level through a YAML alias
    # (ci's `<<: *default_methods`) repeats their errors, which were written at the top level.
    def rank(e) -> Tuple[bool, int, bool]:
        path = tuple(e.absolute_path)
        in_experiment = len(path) >= 2 and path[0] == "experiments"
        return _names_a_key(e), len(path) - (2 if in_experiment else 0), not in_experiment

    error = max(errors, key=rank)
    path, problem = describe(error, schema)
    raise DsbenchError(f"{dotted(written_at(path)) or 'config'}: {problem}")


def describe(error, schema: Mapping[str, Any]) -> Tuple[KeyPath, str]:
    """(key path, problem and fix) of one jsonschema error."""
    # oneOf/anyOf: report the alternative that got furthest into the value.
    while error.validator in ("oneOf", "anyOf") and error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    path: KeyPath = tuple(error.absolute_path)
    instance = error.instance
    kind = error.validator
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, Mapping):
        allowed = sorted(allowed_keys(error.schema, schema))
        unknown = sorted(k for k in instance if k not in allowed)
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), allowed, n=1)
            guess = f"did you mean {close[0]}? " if close else ""
            return (*path, unknown[0]), (f"unknown key; {guess}fix its spelling or remove it "
                                         f"(allowed here: {', '.join(allowed)})")
    if kind == "required" and isinstance(instance, Mapping):
        missing = [k for k in error.validator_value if k not in instance]
        if missing:
            return (*path, missing[0]), "required key is missing; add it"
    if "propertyNames" in error.schema_path:
        # A bad key name: jsonschema reports it at the parent, with the name as the instance.
        return (*path, instance), f"not an allowed key here: {error.message}" + (
            f"; expected {error.schema['description']}" if "description" in error.schema else "")
    if kind == "type" and "string" in _as_list(error.validator_value) and isinstance(instance, (int, float)) \
            and not isinstance(instance, bool):
        hint = ""
        if isinstance(instance, int) and instance > 0:
            # `resolutions: [0x32]` reaches us as 50: YAML 1.1 reads 0x.. as hexadecimal.
            hint = f" (if you wrote {hex(instance)} unquoted, YAML read it as the hex number {instance})"
        return path, f"got the number {instance!r}, expected a string; quote it in the YAML{hint}"
    fix = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    return path, f"{error.message}; expected {fix}" if fix else error.message


def _names_a_key(error) -> bool:
    return error.validator in ("additionalProperties", "unevaluatedProperties") or "propertyNames" in error.schema_path


def allowed_keys(node: Mapping[str, Any], root: Mapping[str, Any]) -> set:
    """The property names a schema node (and the local $refs it pulls in) declares."""
    keys = set(node.get("properties", {}))
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        keys |= allowed_keys(target, root)
    return keys


def reject_non_finite(value: Any, path: KeyPath) -> None:
    """NaN and infinity pass JSON-schema bounds (nan > 0 is not false, it is unordered); no
    setting wants them, so YAML's .nan / .inf are refused wherever they are."""
    if isinstance(value, float) and not math.isfinite(value):
        raise DsbenchError(f"{dotted(path) or 'config'}: {value!r} is not a finite number; give a finite value")
    if isinstance(value, Mapping):
        for key, item in value.items():
            reject_non_finite(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            reject_non_finite(item, (*path, i))


def dotted(path: Iterable[Union[str, int]]) -> str:
    """("experiments", "ci", "resolutions", 0) -> experiments.ci.resolutions[0]"""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _as_list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else [value]
