# Shared helpers: the run matrix from the config, run ids, and command-line fragments.
import os
import json
import shlex


def parse_size(text):
    h, w = (int(v) for v in str(text).lower().split("x"))
    return h, w


FIGURES_ONLY = str(config.get("figures_only", False)).lower() in ("1", "true", "yes")
# The run matrix: the named experiment's overrides applied, grids expanded into labelled
# variants, then validated (benchmark/matrix.py). Its one-line errors name the config key and the
# fix; raised as a WorkflowError from None so Snakemake prints them without a traceback.
from snakemake.exceptions import WorkflowError

from benchmark.errors import DsbenchError
from benchmark.matrix import build_matrix, entry_models, run_keys

try:
    MATRIX = build_matrix(config)
except DsbenchError as error:
    raise WorkflowError(f"invalid config: {error}") from None
EXPERIMENT = MATRIX.get("experiment") or ""


def check_matrix_names(matrix):
    """Names in the config must exist in the registries (errors list the close matches), and a
    downloaded dataset's root must be there. Skipped for figures_only: no torch needed then.
    """
    import os

    import methods  # noqa: F401  registers every method
    from benchmark.data import DATASETS
    from benchmark.models import MODELS

    for name, entry in matrix["datasets"].items():
        DATASETS.get(name)
        if not entry.get("generate", False) and not os.path.isdir(entry["root"]):
            raise ValueError(
                f"datasets.{name}.root: {entry['root']} is not a folder; put the dataset there "
                f"(see README, 'Real Cityscapes') or fix the path in workflows/config.yaml"
            )
    for label in matrix["methods"]:
        for name in entry_models(matrix, label):
            MODELS.get(name)
    from benchmark.tracks import find_method

    # Any track: Suzuki's hierarchical clustering is network downsampling.
    for label, entry in matrix["methods"].items():
        find_method(entry["method"])


if not FIGURES_ONLY:
    check_matrix_names(MATRIX)

RUNS = MATRIX["runs_dir"]
METRICS_CSV = MATRIX["metrics_csv"]
FIGURE_DIR = MATRIX["figures_dir"]
LOGS = MATRIX["logs_dir"]
DEVICE = MATRIX["device"]
THREADS = int(MATRIX["threads_per_job"])
GPU = 1 if str(DEVICE).startswith("cuda") else 0


wildcard_constraints:
    dataset="[a-z0-9_]+",
    label="[a-z0-9_]+",
    model="[a-z0-9_]+",
    res="[0-9]+x[0-9]+",
    seed="[0-9]+",
    step="[a-z0-9_]+",
    study="[a-z0-9_]+",


def run_id(dataset, label, model, res, seed):
    return f"{dataset}-{label}-{model}-{res}-s{seed}"


def run_matrix():
    """Every (dataset, label, model, resolution, seed) the config asks for (a method entry's own
    models and resolutions replace the top-level ones for it)."""
    return run_keys(MATRIX)


def model_entry(label, model):
    """The settings (encoder) of ``model`` as the method entry ``label`` runs it."""
    return entry_models(MATRIX, label)[model]


def run_dirs():
    return [f"{RUNS}/{run_id(*key)}" for key in run_matrix()]


def method_entry(label):
    return MATRIX["methods"][label]


def dataset_entry(dataset):
    return MATRIX["datasets"][dataset]


def dataset_root(dataset):
    entry = dataset_entry(dataset)
    return f"data/{dataset}" if entry.get("generate", False) else entry["root"]


def dataset_marker(dataset):
    """The file a generated dataset's rule makes; a downloaded dataset is a plain source."""
    if dataset_entry(dataset).get("generate", False):
        return f"data/{dataset}/.{dataset}.json"
    return []


def method_option_args(wildcards):
    entry = method_entry(wildcards.label)
    opts = dict(entry.get("options", {}))
    opts.update(extra_method_options(wildcards))
    return " ".join(
        f"--option {shlex.quote(f'{k}={json.dumps(v)}')}"
        for k, v in sorted(opts.items())
    )


def method_class(label):
    """The registered method class of a config label (imports the method families lazily:
    figures_only runs never need them)."""
    from benchmark.tracks import find_method

    return find_method(method_entry(label)["method"])[1]


def prepared_artifact(dataset, label):
    """The file a method's preparation step makes for a dataset, or None (no step)."""
    step = method_class(label).preparation
    if step is None:
        return None
    return f"{RUNS}/{dataset}-{label}-{step.name}/{step.name}.pt"


def preparation_settings(wildcards):
    """The step's settings: its defaults, the method entry's prepare:, then prepare_override."""
    step = method_class(wildcards.label).preparation
    overrides = {
        **method_entry(wildcards.label).get("prepare", {}),
        **MATRIX.get("prepare_override", {}),
    }
    settings = step.settings(overrides, where=f"methods.{wildcards.label}.prepare")
    return " ".join(
        f"--setting {shlex.quote(f'{k}={json.dumps(v)}')}"
        for k, v in sorted(settings.items())
    )


def extra_method_options(wildcards):
    """Options that point a method at files the DAG made for it (its preparation step's artifact)."""
    artifact = prepared_artifact(wildcards.dataset, wildcards.label)
    if artifact is None:
        return {}
    return {method_class(wildcards.label).preparation.option: artifact}


def extra_train_inputs(wildcards):
    artifact = prepared_artifact(wildcards.dataset, wildcards.label)
    return [artifact] if artifact else []


def study_names():
    """Every study declared by a method in the matrix (e.g. priors, sampling points)."""
    return sorted(
        {s for label in MATRIX["methods"] for s in method_class(label).studies}
    )


def study_output(dataset, study):
    return f"{RUNS}/{dataset}-{study}/metrics.csv"


def run_outputs():
    """Every file `aggregate` collects: per-run rows, plus the dataset studies of the matrix's methods."""
    outs = []
    for d in run_dirs():
        outs += [f"{d}/metrics.csv", f"{d}/cost.csv", f"{d}/train.csv"]
    outs += [
        study_output(dataset, s)
        for dataset in MATRIX["datasets"]
        for s in study_names()
    ]
    return outs


ALL_TARGETS = []  # filled by the included rule files


def figure_id(path):
    return os.path.splitext(os.path.basename(path))[0]


def figure_files(key):
    """Tables (ids table_*) are Markdown + LaTeX; figures are PNG + PDF."""
    suffixes = (".md", ".tex") if key.startswith("table_") else (".png", ".pdf")
    return [f"{FIGURE_DIR}/{key}{s}" for s in suffixes]
