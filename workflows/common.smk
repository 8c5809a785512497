# Shared helpers: the run matrix from the config, run ids, and command-line fragments.
import os
import json
import re
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
from benchmark.matrix import (
    build_matrix,
    dataset_methods,
    dataset_target_classes,
    entry_models,
    run_keys,
    run_train_settings,
)

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

    from benchmark.data.cards import register_card

    for name, entry in matrix["datasets"].items():
        if "card" in entry:
            spec = register_card(entry["card"], require_root=True)
            if spec.name != name:
                raise ValueError(
                    f"datasets.{name}.card: {entry['card']} names the dataset {spec.name!r}; "
                    f"rename the entry to {spec.name} (run ids and rows use the card's name)"
                )
            if not os.path.isdir(spec.default_root):
                raise ValueError(
                    f"datasets.{name}.card: the root of {entry['card']}, {spec.default_root}, is not a "
                    f"folder; put the dataset there or fix root: in the card"
                )
            continue
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
    from benchmark.registry import SUPERPIXEL_METHODS

    superpixels = matrix.get("superpixels") or {}
    for label, entry in superpixels.get("methods", {}).items():
        cls = SUPERPIXEL_METHODS.get(entry["method"])
        if "train" in entry and not cls.trainable:
            raise ValueError(
                f"superpixels.methods.{label}.train: {entry['method']} is a classical method, which "
                f"needs no training; remove train: (only ssn, scn, pcnet, hcssn train)"
            )
    for name, entry in superpixels.get("datasets", {}).items():
        if name not in matrix["datasets"] and "root" not in entry:
            raise ValueError(
                f"superpixels.datasets.{name}: not a dataset of `datasets:`, so it needs root: "
                f"(the folder that holds it)"
            )
        if "root" in entry and not os.path.isdir(entry["root"]):
            raise ValueError(
                f"superpixels.datasets.{name}.root: {entry['root']} is not a folder; put the dataset "
                f"there or fix the path (BSDS500: the folder holding images/ and groundTruth/)"
            )


# Checked once, by the Snakemake process the user started: a cluster job's own Snakemake process
# (sbatch script, srun step) runs one rule of an already checked config.
if not FIGURES_ONLY and workflow.is_main_process:
    check_matrix_names(MATRIX)

RUNS = MATRIX["runs_dir"]
# A `{dataset}` wildcard is one of the matrix's datasets (or a superpixel track's own dataset).
DATASET_WILDCARD = "|".join(
    re.escape(name)
    for name in sorted(
        {*MATRIX["datasets"], *(MATRIX.get("superpixels") or {}).get("datasets", {})}
    )
)
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
    if "card" in entry:
        from benchmark.data.cards import register_card

        return register_card(entry["card"], require_root=True).default_root
    return f"data/{dataset}" if entry.get("generate", False) else entry["root"]


def dataset_args(dataset):
    """The dataset flags of a command: --dataset-card for a card entry, else --dataset and --root."""
    entry = dataset_entry(dataset)
    if "card" in entry:
        return f"--dataset-card {shlex.quote(entry['card'])}"
    return f"--dataset {dataset} --root {shlex.quote(dataset_root(dataset))}"


def dataset_marker(dataset):
    """The file a generated dataset's rule makes; a card entry depends on its card (a changed
    card retrains); a downloaded dataset is a plain source."""
    entry = dataset_entry(dataset)
    if entry.get("generate", False):
        return f"data/{dataset}/.{dataset}.json"
    return [entry["card"]] if "card" in entry else []


# train settings -> `dsbench train` flags, beyond the four every config sets; absent: the engine's default.
OPTIONAL_TRAIN_FLAGS = {
    "weight_decay": "--weight-decay",
    "optimizer": "--optimizer",
    "momentum": "--momentum",
    "lr_policy": "--lr-policy",
    "class_weights": "--class-weights",
    "crop": "--crop",
    "scale_range": "--scale-range",
}


def train_setting_args(wildcards):
    """The optional train settings of a run (benchmark.matrix.run_train_settings) as flags."""
    train = run_train_settings(MATRIX, wildcards.label, wildcards.res)
    args = []
    for key, flag in OPTIONAL_TRAIN_FLAGS.items():
        if key in train:
            value = train[key]
            if key == "scale_range":
                value = ",".join(str(v) for v in value)
            args.append(f"{flag} {shlex.quote(str(value))}")
    entry = model_entry(wildcards.label, wildcards.model)
    if entry.get("encoder_weights"):
        args.append(f"--encoder-weights {shlex.quote(entry['encoder_weights'])}")
        if MATRIX.get("allow_hub_weights", False):
            args.append("--allow-hub-weights")
    return " ".join(args)


from benchmark.results import protocol_suffix

# The evaluate rule's test protocol (`eval:`): its metrics file is metrics{EVAL_SUFFIX}.csv, so
# a preset that only tests differently (suzuki_cityscapes_multiscale) reuses another's trained runs.
EVAL_SUFFIX = protocol_suffix(
    MATRIX.get("eval", {}).get("scales", [1.0]),
    MATRIX.get("eval", {}).get("flip", False),
)


def run_dataset(run):
    """The dataset of a run id (`<dataset>-<label>-<model>-<res>-s<seed>`; names hold no '-')."""
    return run.split("-", 1)[0]


def target_class_args(dataset):
    """`--target-classes A B` of the dataset's target_classes (its own, else the config's);
    nothing for an empty list (no target classes: the flag takes at least one)."""
    targets = dataset_target_classes(MATRIX, dataset)
    return (
        "--target-classes " + " ".join(shlex.quote(c) for c in targets)
        if targets
        else ""
    )


def eval_protocol_args():
    """The config's `eval:` as `dsbench evaluate` flags (with a leading space); empty for single
    scale, so the default evaluate command reads exactly as before the key existed."""
    protocol = MATRIX.get("eval", {})
    args = ""
    if "scales" in protocol:
        args += " --scales " + " ".join(
            str(float(scale)) for scale in protocol["scales"]
        )
    if protocol.get("flip", False):
        args += " --flip"
    return args


# One training or evaluation job's cluster resources (the presets' `resources:`); absent: the profile's.
JOB_RESOURCES = dict(MATRIX.get("resources", {}))


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


def study_names(dataset):
    """Every study declared by a method that runs on ``dataset`` (e.g. priors, sampling points)."""
    return sorted(
        {
            s
            for label in dataset_methods(MATRIX, dataset)
            for s in method_class(label).studies
        }
    )


def study_output(dataset, study):
    return f"{RUNS}/{dataset}-{study}/metrics.csv"


# The superpixel track: each method of `superpixels:` segments each of its datasets' split at
# every requested count (workflows/superpixels.smk); absent or empty, nothing runs.
SUPERPIXELS = MATRIX.get("superpixels") or {}


def superpixel_output(dataset, label):
    return f"{RUNS}/{dataset}-superpixels-{label}/metrics.csv"


def superpixel_seeds(label):
    """The training seeds of a deep entry with `train:`: its train.seed alone where it pins one,
    else the track's `seeds:`, else the config's global `seeds` (one run per seed)."""
    train = superpixel_method(label)["train"]
    if "seed" in train:
        return [int(train["seed"])]
    return [int(s) for s in SUPERPIXELS.get("seeds", MATRIX["seeds"])]


def superpixel_trained_output(dataset, label, seed):
    return f"{RUNS}/{dataset}-superpixels-{label}-s{seed}/metrics.csv"


def superpixel_outputs():
    """Per dataset and entry: one segmentation per training seed for a deep entry with `train:`
    (the rule superpixels_trained), else one (the rule superpixels; classical, or untrained deep rows).
    """
    outs = []
    for dataset in SUPERPIXELS.get("datasets", {}):
        for label, entry in SUPERPIXELS.get("methods", {}).items():
            if "train" in entry:
                outs += [
                    superpixel_trained_output(dataset, label, seed)
                    for seed in superpixel_seeds(label)
                ]
            else:
                outs.append(superpixel_output(dataset, label))
    if SUPERPIXELS.get("resolution_sizes"):
        outs.append(f"{RUNS}/superpixels-resolution/metrics.csv")
    return outs


def superpixel_root(dataset):
    """A dataset of the matrix (generated or downloaded) keeps its root; bsds500 etc. give theirs."""
    entry = SUPERPIXELS["datasets"][dataset]
    return entry["root"] if "root" in entry else dataset_root(dataset)


def superpixel_data(dataset):
    return dataset_marker(dataset) if dataset in MATRIX["datasets"] else []


def superpixel_method(label):
    return SUPERPIXELS["methods"][label]


def superpixel_run_dir(dataset, label, seed):
    """The training run of a deep method entry with `train:` at one seed (workflows/superpixels.smk)."""
    return f"{RUNS}/{dataset}-superpixels-{label}-s{seed}-train"


def superpixel_trained_run(dataset, label, seed):
    """[the run's model.pt] of an entry with `train:` at ``seed``."""
    if "train" not in superpixel_method(label):
        raise WorkflowError(
            f"superpixels.methods.{label}: no train: entry, so no trained run to segment with"
        )
    return [f"{superpixel_run_dir(dataset, label, seed)}/model.pt"]


# superpixels.methods.<label>.train -> `dsbench train-superpixels` flags; absent: the paper's setting.
SUPERPIXEL_TRAIN_FLAGS = {
    "iters": "--iters",
    "batch_size": "--batch-size",
    "crop": "--crop",
    "lr": "--lr",
    "checkpoint_every": "--checkpoint-every",
}


def superpixel_train_args(label, seed):
    """The entry's train settings as flags, and the run's seed (--seed, from the run's path)."""
    train = superpixel_method(label)["train"]
    args = [
        f"{flag} {shlex.quote(str(train[key]))}"
        for key, flag in SUPERPIXEL_TRAIN_FLAGS.items()
        if key in train
    ]
    return " ".join(args + [f"--seed {int(seed)}"])


def superpixel_option_args(label):
    return " ".join(
        f"--option {shlex.quote(f'{k}={json.dumps(v)}')}"
        for k, v in sorted(superpixel_method(label).get("options", {}).items())
    )


def superpixel_segment_args(dataset, label, seed=None):
    """The entry's own counts and image limit, and its trained run (at ``seed``) or options, as flags."""
    entry = superpixel_method(label)
    counts = entry.get("n", SUPERPIXELS.get("n", []))
    args = ["--n " + " ".join(str(n) for n in counts)]
    if "limit" in entry:
        args.append(f"--limit {int(entry['limit'])}")
    if seed is not None:
        args.append(f"--run {shlex.quote(superpixel_run_dir(dataset, label, seed))}")
    else:
        args.append(superpixel_option_args(label))
    return " ".join(args)


def run_outputs():
    """Every file `aggregate` collects: per-run rows, the dataset studies of the matrix's methods
    and the superpixel track's rows."""
    outs = superpixel_outputs()
    for d in run_dirs():
        outs += [f"{d}/metrics{EVAL_SUFFIX}.csv", f"{d}/cost.csv", f"{d}/train.csv"]
    outs += [
        study_output(dataset, s)
        for dataset in MATRIX["datasets"]
        for s in study_names(dataset)
    ]
    return outs


ALL_TARGETS = []  # filled by the included rule files


def figure_id(path):
    return os.path.splitext(os.path.basename(path))[0]


def figure_files(key):
    """Tables (ids table_*) are Markdown + LaTeX; figures are PNG + PDF."""
    suffixes = (".md", ".tex") if key.startswith("table_") else (".png", ".pdf")
    return [f"{FIGURE_DIR}/{key}{s}" for s in suffixes]
