"""The Snakemake DAG: lint, format, dry runs (default, ci, slurm, slurm_gpu), readable config
errors, a smoke run of every rule at toy size, and figures rebuilt from stored metrics without
torch. The DAG on a real SLURM cluster: tests/cluster/test_slurm_cluster.py."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.matrix import build_matrix, run_keys

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "Snakefile"
SMK_FILES = [SNAKEFILE, *sorted((ROOT / "workflows").glob("*.smk"))]
CONFIG = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())


def snakemake(*args, cwd, env=None, timeout=600):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "-d", str(cwd), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def write_experiment(path, name, **settings):
    path.write_text(yaml.safe_dump({"experiments": {name: settings}}))
    return path


@pytest.mark.slow  # Snakemake --lint: ~13 s
def test_lint_passes(tmp_path):
    proc = snakemake("--lint", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_rule_files_are_snakefmt_formatted():
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *map(str, SMK_FILES)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_default_dry_run_covers_every_rule_and_method(tmp_path):
    proc = snakemake("-n", "--cores", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    for rule in ("make_data", "prepare", "train", "evaluate", "study", "aggregate",
                 "figures", "report"):
        assert f"rule {rule}:" in out, rule
    config = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())
    keys = run_keys(build_matrix(config))
    assert out.count("rule train:") == len(keys)
    # Input downsampling on the models x resolutions grid; Suzuki's networks at the full 256x512.
    assert {res for _, _, model, res, _ in keys if model == "unet"} == {"16x32", "32x64", "64x128"}
    assert {(label, model, res) for _, label, model, res, _ in keys if model != "unet"} == {
        *((f"hcfcn32_levels{level}", "fcn32", "256x512") for level in range(3)),  # levels 3-4: suzuki_hc
        ("atrous_fcn", "atrous_fcn", "256x512"), ("pspnet", "pspnet", "256x512"), ("hcpspnet", "pspnet", "256x512")}


def test_default_dry_run_runs_synthaerial_with_its_methods_its_aux_net_and_no_target_classes(tmp_path):
    proc = snakemake("-n", "-p", "--cores", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    commands = [line for line in out.splitlines()  # one job's command (aggregate lists every run's files)
                if "dsbench" in line and "synthaerial" in line and "dsbench aggregate" not in line]
    trained = sorted(re.search(r"--out results/runs/(synthaerial-\S+)", c).group(1)
                     for c in commands if "dsbench train " in c)
    assert trained == sorted(f"synthaerial-{label}-unet-{res}-s0" for label in
                             ("uniform", "edge_based", "deformation", "deformation_single") for res in ("32x64",))
    assert sum("dsbench make-data --dataset synthaerial" in c for c in commands) == 1
    assert sum("dsbench prepare edge_based --dataset synthaerial" in c for c in commands) == 1
    # edge_based's study only (no soft_labels on it: no priors); no superpixel track.
    assert [c.split("dsbench study ")[1].split()[0] for c in commands if "dsbench study" in c] == ["sampling_points"]
    assert not any("superpixels" in c for c in commands)
    evaluations = [c for c in commands if "dsbench evaluate " in c]
    assert len(evaluations) == 4 and not any("--target-classes" in c for c in evaluations)
    assert any("--target-classes" in line for line in out.splitlines() if "dsbench evaluate --run results/runs/synthcity" in line)


# One Snakemake dry run (~10 s each) per kind of experiment: a method grid (jin_sensitivity), a
# training grid (alcover_fig7_batch), the superpixel track alone with a dataset outside `datasets:`
# (superpixels_bsds500). ci has its profile's dry run and its real run in .ci/run; suzuki_hc and
# suzuki_table1 the dry runs below; every experiment builds in-process (tests/workflows/test_matrix.py).
DRY_RUN_EXPERIMENTS = ["alcover_fig7_batch", "jin_sensitivity", "superpixels_bsds500"]


@pytest.mark.slow
@pytest.mark.parametrize("name", DRY_RUN_EXPERIMENTS)
def test_named_experiment_dry_run_trains_its_own_matrix(tmp_path, name):
    config = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())
    experiment = build_matrix({**config, "experiment": name})  # grids expanded into their variants
    # A dataset root is relative to the project root; this dry run works in tmp_path, so it gets
    # the absolute path through an overlay config file (merged key by key by Snakemake).
    roots = {}
    for dataset, entry in (experiment.get("superpixels") or {}).get("datasets", {}).items():
        if "root" in entry:
            if not (ROOT / entry["root"]).is_dir():
                pytest.skip(f"{name} reads {entry['root']} (the shared BSDS500 copy), not found from the project root")
            roots[dataset] = {"root": str((ROOT / entry["root"]).resolve())}
    overlay = []
    if roots:
        overlay_file = tmp_path / "roots.yaml"
        overlay_file.write_text(yaml.safe_dump({"experiments": {name: {"superpixels": {"datasets": roots}}}}))
        overlay = ["--configfile", str(ROOT / "workflows/config.yaml"), str(overlay_file)]
    proc = snakemake("-n", "--cores", "2", *overlay, "--config", f"experiment={name}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert out.count("rule train:") == len(run_keys(experiment))  # per-entry models / resolutions included
    assert experiment["runs_dir"] in out


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["ci", "slurm", "slurm_gpu"])
def test_profiles_dry_run(tmp_path, profile):
    proc = snakemake("-n", "--profile", str(ROOT / "workflows/profiles" / profile), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("override,needle", [
    pytest.param({"methods": {"mine": {"method": "edge_base"}}}, "did you mean edge_based", marks=pytest.mark.slow),
    ({"resolutions": ["0x32"]}, "0x32"),
    # Errors found after the schema (registries, folders) need a Snakemake start (~10 s): slow.
    pytest.param({"datasets": {"cityscapes": {"generate": False, "root": "/no/such/cityscapes"}}}, "/no/such/cityscapes",
                 marks=pytest.mark.slow),
    pytest.param({"models": {"unet3": {}}}, "unet3", marks=pytest.mark.slow),
    # Raw YAML: unquoted 0x32 is the hex number 50.
    ("resolutions: [0x32]\n", "invalid config: resolutions[0]: got the number 50"),
    ({"resolution": ["16x32"]}, "invalid config: resolution: unknown key; did you mean resolutions?"),
    ({"experiment": "ci", "experiments": {"ci": {"train": {"iters": 0}}}}, "invalid config: experiments.ci.train.iters:"),
    ({"experiment": "nope"}, "unknown experiment 'nope'"),
    ({"methods": {"edge_sim": {"method": "edge_sim", "grid": {"radius": 1}}}}, "methods.edge_sim.grid.radius:"),
])
def test_config_errors_are_readable(tmp_path, override, needle):
    bad = tmp_path / "bad.yaml"
    bad.write_text(override if isinstance(override, str) else yaml.safe_dump(override))
    proc = snakemake("-n", "--configfile", str(bad), cwd=tmp_path)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert needle in out
    assert "Traceback" not in out and "benchmark/matrix.py" not in out  # the message, not the code


@pytest.mark.slow
def test_smoke_dag_runs_every_rule_and_reruns_nothing(tmp_path):
    smoke = write_experiment(
        tmp_path / "smoke.yaml", "smoke",
        datasets={"synthcity": {"generate": True, "split_sizes": {"train": 4, "val": 2}, "size": "64x128", "seed": 0}},
        methods={"uniform": {"method": "uniform"},
                 "edge_based": {"method": "edge_based", "prepare": {"size_in": "16x32", "size_out": "4x8",
                                                                    "iters": 2, "batch_size": 2}}},
        resolutions=["16x32"], train={"iters": 3, "batch_size": 2, "lr": 0.001, "checkpoint_every": 2},
        superpixels={"n": [20], "methods": {"slic": {"method": "slic"}}, "datasets": {"synthcity": {"split": "val"}}})
    args = ("--cores", "2", "--configfile", str(smoke), "--config", "experiment=smoke")
    proc = snakemake(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = tmp_path / "results/metrics.csv"
    import pandas as pd

    df = pd.read_csv(metrics)
    assert set(df["method"]) >= {"uniform", "edge_based"}
    assert {"miou", "macs", "train_loss", "sampling_point_row", "boundary_recall"} <= set(df["metric"])
    # studies follow the families in the matrix: edge_based's sampling points, no soft-label priors
    assert "prior_discrepancy" not in set(df["metric"])
    assert (tmp_path / "results/figures/cost_curves.png").is_file()
    assert any((tmp_path / "logs").rglob("*.log"))
    again = snakemake("-n", *args, cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow  # a Snakemake dry run (~7 s)
def test_figures_only_rebuilds_figures_that_are_newer_than_the_metrics(tmp_path):
    """After a full run the figures are newer than results/metrics.csv; asking for them again
    with figures_only=true must rebuild them, not read "Nothing to be done"."""
    from benchmark.results import write_rows
    from paper_figures.synthetic import synthetic_rows
    import paper_figures

    metrics = tmp_path / "results/metrics.csv"
    write_rows(metrics, synthetic_rows())
    os.utime(metrics, (1_000_000_000, 1_000_000_000))  # older than every figure below
    for key in paper_figures.figure_ids():
        for suffix in ((".md", ".tex") if key.startswith("table_") else (".png", ".pdf")):
            (tmp_path / "results/figures").mkdir(parents=True, exist_ok=True)
            (tmp_path / "results/figures" / f"{key}{suffix}").write_text("built before\n")
    proc = snakemake("-n", "figures", "--cores", "1", "--config", "figures_only=true", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rule figures:" in out and "Nothing to be done" not in out


@pytest.mark.slow
def test_figures_rebuild_from_stored_metrics_without_torch(tmp_path):
    from benchmark.results import write_rows
    from paper_figures.synthetic import synthetic_rows

    write_rows(tmp_path / "results/metrics.csv", synthetic_rows())
    assert not (tmp_path / "results/runs").exists()
    # A `torch` that cannot be imported: any model code on this path fails the rule.
    blocker = tmp_path / "no_torch"
    (blocker / "torch").mkdir(parents=True)
    (blocker / "torch/__init__.py").write_text("raise ImportError('figures must not import torch')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}
    proc = snakemake("figures", "--cores", "1", "--config", "figures_only=true", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import paper_figures

    for key in paper_figures.figure_ids():  # the default set; experiment figures come with their experiment
        suffixes = (".md", ".tex") if key.startswith("table_") else (".png", ".pdf")
        for suffix in suffixes:
            assert (tmp_path / "results/figures" / f"{key}{suffix}").stat().st_size > 0, key
    # ... and the HTML report carries every figure and table as a captioned item
    report = tmp_path / "report.html"
    proc = snakemake("--report", str(report), "--config", "figures_only=true", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = report.read_text(errors="replace")
    for key in paper_figures.figure_ids():
        assert key in html, key


@pytest.mark.slow  # one Snakemake dry run per experiment (~10 s each)
@pytest.mark.parametrize("name", ["suzuki_hc", "suzuki_table1"])
def test_suzuki_dry_runs_train_only_the_declared_models_at_full_size(tmp_path, name):
    proc = snakemake("-n", "-p", "--cores", "2", "--config", f"experiment={name}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    expected = {f"results/{name}/runs/{d}-{label}-{model}-{res}-s{seed}/model.pt"
                for d, label, model, res, seed in run_keys(build_matrix({**CONFIG, "experiment": name}))}
    trained = set(re.findall(rf"results/{name}/runs/\S+/model\.pt", out))
    assert trained == expected
    assert "--encoder resnet10t" in out and "--resolution 256x512" in out
    assert "unet" not in " ".join(trained)
