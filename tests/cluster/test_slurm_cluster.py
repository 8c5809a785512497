"""The DAG on a real SLURM cluster: a one-node cluster on loopback, the shipped SLURM profile.

tests/cluster/local_slurm.sh installs (apt, first time only: slurmctld slurmd slurmdbd
slurm-client munge mariadb-server) and starts munged, a private MariaDB, slurmdbd, slurmctld and
slurmd, all configured in a temporary directory; the cluster's accounting is what lets `sacct`
answer, and the Snakemake SLURM executor polls job status with sacct. A tiny experiment
(make_data, one training, evaluate, aggregate, figures, report) then runs twice, side by side: through
`--profile workflows/profiles/slurm` (one sbatch job per rule, but for the local rules aggregate,
figures and report, which Snakemake runs itself) and locally (`--cores 2`, up to the metrics). The
test checks that sacct lists one completed job per cluster rule in the test partition and none for
the local rules, that the local rules' outputs exist, and that both runs wrote the same metric rows: every value equal except the
provenance columns and the timing metrics (workflows/tolerances.yaml `ignore:`), which depend on
when and where a job ran.

The profile is overridden on the command line only for what a 2-CPU node without a GPU needs:
`--config ... device=cpu threads_per_job=1` (the profile asks 4 CPUs per training job) and
`--default-resources slurm_partition=... runtime=... mem_mb=...`; these options replace the
profile's lists, so the test names every entry it relies on. The jobs find this checkout's code
through a `dsbench` shim first on PATH and PYTHONPATH, which sbatch exports to the jobs
(`--export=ALL`).

Needs root (the daemons switch users) and apt or the packages already installed; skipped
otherwise. Stops every daemon and removes its directories afterwards; the packages stay.

Measured end to end on a shared 2-core machine, packages installed: 5 min 16 s at load average
1-3, 6 min 44 s at ~7 (cluster start 7-9 s, stop 11-13 s). From no packages, apt update and
install added 25 s to the start (5 min 54 s in all; the install alone took 68 s once under
load). Most of the time is per-job overhead: each SLURM job starts Snakemake twice (the sbatch
script, then its srun step), each start imports torch to build the DAG, and the executor's
status polls start 5 s apart and grow by 10 s while nothing finishes.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "Snakefile"
LOCAL_SLURM = ROOT / "tests/cluster/local_slurm.sh"
SLURM_PROFILE = ROOT / "workflows/profiles/slurm"
TOLERANCES = ROOT / "workflows/tolerances.yaml"
CLUSTER = "dsbench_test"
PARTITION = "dsbench_test"
RULES = {"make_data", "train", "evaluate"}  # each a SLURM job
LOCAL_RULES = {"aggregate", "figures", "report"}  # `localrules`: run by Snakemake itself, no queued job
SLURM_BINARIES = ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "sacctmgr", "munged", "mariadbd")
EXPERIMENT = {
    "datasets": {"synthcity": {"generate": True, "split_sizes": {"train": 4, "val": 2}, "size": "32x64", "seed": 0}},
    "methods": {"uniform": {"method": "uniform"}},
    "resolutions": ["16x32"],
    "train": {"iters": 2, "batch_size": 2, "lr": 0.001, "checkpoint_every": 2},
    "superpixels": {},  # the rules of RULES and LOCAL_RULES only
}
# Both runs: the tiny experiment on CPU, one torch thread per job (the node has 2 CPUs).
CONFIG = ("--configfile", "tiny.yaml", "--config", "experiment=tiny", "device=cpu", "threads_per_job=1")


def installed(binary):
    return shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is not None


def skip_reason():
    if os.geteuid() != 0:
        return "needs root: the SLURM, munge and MariaDB daemons switch to their own users"
    if not all(map(installed, SLURM_BINARIES)) and shutil.which("apt-get") is None:
        return "SLURM, munge or MariaDB is not installed and there is no apt-get to install them"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))]


@pytest.fixture
def slurm_cluster():
    """The running one-node cluster: the environment its clients need (SLURM_CONF)."""
    # Not pytest's tmp_path: the daemons run as slurm, munge and mysql, and tmp_path's parents
    # are private to root.
    state = Path(tempfile.mkdtemp(prefix="dsbench-slurm-", dir="/tmp"))
    env = {**os.environ, "LOCAL_SLURM_CLUSTER": CLUSTER, "LOCAL_SLURM_PARTITION": PARTITION}
    try:
        proc = subprocess.run(["bash", str(LOCAL_SLURM), "start", str(state)], env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"the test cluster did not start:\n{proc.stdout}\n{proc.stderr[-4000:]}"
        yield {"SLURM_CONF": str(state / "slurm.conf"), "PATH": env["PATH"] + ":/usr/sbin"}
    finally:
        subprocess.run(["bash", str(LOCAL_SLURM), "stop", str(state)], env=env, capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def dsbench_environment(tmp_path, extra=None):
    """PATH and PYTHONPATH that resolve `dsbench` and `benchmark` to this checkout, whatever is
    installed: the shim is a script, so SLURM jobs (which inherit the environment) use it too."""
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "dsbench").write_text(f'#!/bin/sh\nexec {sys.executable} -m benchmark "$@"\n')
    (shim / "dsbench").chmod(0o755)
    env = {**os.environ, **(extra or {})}
    env["PATH"] = os.pathsep.join([str(shim), env["PATH"]])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    return env


def prepare_workdir(path):
    path.mkdir()
    (path / "tiny.yaml").write_text(yaml.safe_dump({"experiments": {"tiny": EXPERIMENT}}))
    return path


def snakemake_command(workdir, *args):
    return [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "-d", str(workdir), *CONFIG, *args]


def comparable_rows(metrics_csv):
    """The rows without provenance columns and timing metrics, in a stable order."""
    from benchmark.results import PROVENANCE, read_rows

    timings = set(yaml.safe_load(TOLERANCES.read_text())["ignore"])
    df = read_rows(metrics_csv)
    df = df[~df["metric"].isin(timings)].drop(columns=PROVENANCE)
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def sacct_jobs(env, since):
    proc = subprocess.run(["sacct", "-X", "--parsable2", "--noheader", f"--clusters={CLUSTER}",
                           f"--starttime={since}", "--format=JobIDRaw,JobName,Partition,State,Comment"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    fields = ("job_id", "name", "partition", "state", "comment")
    return [dict(zip(fields, line.split("|"))) for line in proc.stdout.splitlines() if line]


def test_dag_through_slurm_matches_local_run(tmp_path, slurm_cluster):
    env = dsbench_environment(tmp_path, slurm_cluster)
    local_dir = prepare_workdir(tmp_path / "local")
    slurm_dir = prepare_workdir(tmp_path / "slurm")
    since = time.strftime("%Y-%m-%dT%H:%M:%S")

    # The local reference run, side by side with the SLURM run (whose jobs mostly wait on the
    # status polls); up to the metrics only: the figures are checked on the SLURM side.
    local = subprocess.Popen(snakemake_command(local_dir, "--cores", "2", "results/metrics.csv"),
                             cwd=local_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        slurm = subprocess.run(
            snakemake_command(
                slurm_dir, "--profile", str(SLURM_PROFILE),
                "--default-resources", f"slurm_partition={PARTITION}", "runtime=30", "mem_mb=2000",
                # The first status check after 40 s by default; these jobs take seconds.
                "--slurm-init-seconds-before-status-checks", "5",
                "--slurm-keep-successful-logs"),
            cwd=slurm_dir, env=env, capture_output=True, text=True, timeout=900)
        local_output, _ = local.communicate(timeout=900)
    finally:
        if local.poll() is None:
            local.kill()
    slurm_logs = "\n".join(f"--- {log}\n{log.read_text()[-1500:]}"
                           for log in sorted((slurm_dir / ".snakemake/slurm_logs").rglob("*.log")))
    assert slurm.returncode == 0, f"{slurm.stdout[-3000:]}\n{slurm.stderr[-5000:]}\n{slurm_logs}"
    assert local.returncode == 0, local_output[-5000:]

    # Each rule was a SLURM job in the test partition, and it completed.
    jobs = sacct_jobs(env, since)
    rules = {job["comment"].removeprefix("rule_").split("_wildcards_")[0] for job in jobs}
    assert rules == RULES, jobs
    assert len(jobs) == len(RULES), jobs
    assert {(job["partition"], job["state"]) for job in jobs} == {(PARTITION, "COMPLETED")}, jobs
    assert len({job["name"] for job in jobs}) == 1, jobs  # one Snakemake run (its run id)

    # Same rows, same values, wherever the jobs ran.
    on_slurm = comparable_rows(slurm_dir / "results/metrics.csv")
    on_local = comparable_rows(local_dir / "results/metrics.csv")
    assert len(on_slurm) > 0 and {"miou", "train_loss", "macs"} <= set(on_slurm["metric"])
    pd.testing.assert_frame_equal(on_slurm, on_local, check_exact=True)
    assert (slurm_dir / "results/figures/cost_curves.png").stat().st_size > 0
    assert (slurm_dir / "results/report/verdicts.csv").stat().st_size > 0
    # The local rules ran in the Snakemake process, not as jobs (sacct named only RULES above).
    assert all(f"localrule {rule}:" in slurm.stdout + slurm.stderr for rule in LOCAL_RULES)
