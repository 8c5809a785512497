"""Fault probes of evaluation, IO and the CLI: each feeds one bad input or fault and checks the
exit code, a one-line message that names the culprit, and that no partial output is left (no
temporary file, no half-written result, previous results untouched)."""
import builtins
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import benchmark.io
from benchmark import native
from benchmark.cli import INTERRUPTED, main
from benchmark.errors import DsbenchError
from benchmark.metrics.suite import MetricSuite
from benchmark.results import write_rows

ROOT = Path(__file__).resolve().parents[2]
NO_SPACE = os.strerror(errno.ENOSPC)
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_file_modes = pytest.mark.skipif(AS_ROOT, reason="root ignores file modes")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in err and "np.float64" not in err, err
    for needle in needles:
        assert str(needle) in err, (needle, err)


def temp_files(folder):
    """Leftovers of an atomic write (benchmark.io names its temporary files ``.NAME.*``)."""
    return [p for p in Path(folder).rglob(".*") if p.is_file()]


def snapshot(run):
    return {name: (run / name).read_bytes() for name in ("metrics.csv", "counts.npz", "counts_intrinsic.npz")}


def without_results(run):
    for name in ("metrics.csv", "counts.npz", "counts_intrinsic.npz"):
        (run / name).unlink()
    return run


def assert_no_results(run):
    assert not [n for n in ("metrics.csv", "counts.npz", "counts_intrinsic.npz") if (run / n).exists()]
    assert not temp_files(run)


def edit_run_json(run, **changes):
    path = run / "run.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def fill_disk_on_write(monkeypatch, owner, name):
    """Make the writer ``owner.name(self, target, ...)`` write half a file, then fail as on a full disk."""
    def full(self, target, *args, **kwargs):
        Path(target).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(owner, name, full)


def fill_disk_on_bytes(monkeypatch, whole_files=0):
    """``Path.write_bytes`` (benchmark.io's binary writer) writes ``whole_files`` files, then half a
    file, and fails as on a full disk."""
    real_write_bytes, calls = Path.write_bytes, []

    def full(self, data):
        calls.append(self)
        if len(calls) <= whole_files:
            return real_write_bytes(self, data)
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(Path, "write_bytes", full)


def fill_disk_for_text(monkeypatch):
    """benchmark.io's text writer writes half its text, then fails as on a full disk."""
    class HalfWritten:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            self.fh.flush()
            raise OSError(errno.ENOSPC, NO_SPACE)

    def full_disk_open(path, mode="r", *args, **kwargs):
        fh = builtins.open(path, mode, *args, **kwargs)
        return HalfWritten(fh) if "w" in mode else fh

    monkeypatch.setattr(benchmark.io, "open", full_disk_open, raising=False)


@pytest.fixture(scope="module")
def figure_metrics(tmp_path_factory):
    """Rows every figure can be built from (the synthetic rows of the figure tests)."""
    from paper_figures.synthetic import synthetic_rows

    path = tmp_path_factory.mktemp("figure_rows") / "metrics.csv"
    write_rows(path, synthetic_rows())
    return path


def header_only(tmp_path, source, name="metrics.csv"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(Path(source).read_text().splitlines()[0] + "\n")
    return path


# -- A: interrupts and refused writes ---------------------------------------------------------------

def test_an_interrupt_is_one_line_and_exit_130(capsys, monkeypatch, trained_run, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("benchmark.aggregate.aggregate_files", interrupted)
    out = tmp_path / "metrics.csv"
    code, err = run_cli(capsys, "aggregate", "--out", out, trained_run / "metrics.csv")
    assert code == 130 and err == INTERRUPTED
    assert not out.exists()


@pytest.mark.parametrize("previous", ["none", "kept"])
def test_an_interrupt_during_evaluation_leaves_no_partial_metrics(capsys, monkeypatch, run_copy, previous):
    run = without_results(run_copy) if previous == "none" else run_copy
    before = snapshot(run) if previous == "kept" else {}
    calls = []

    def interrupt_on_the_second_image(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricSuite, "process", interrupt_on_the_second_image)
    code, err = run_cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--quiet")
    assert code == 130 and err == INTERRUPTED and len(calls) == 2
    if previous == "none":
        assert_no_results(run)
    else:
        assert snapshot(run) == before and not temp_files(run)


def test_an_os_error_escaping_a_verb_is_one_line(capsys, monkeypatch, trained_run, tmp_path):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/shared/results/metrics.csv")

    monkeypatch.setattr("benchmark.aggregate.aggregate_files", refused)
    code, err = run_cli(capsys, "aggregate", "--out", tmp_path / "m.csv", trained_run / "metrics.csv")
    assert_one_line_error(code, err, "cannot write /shared/results/metrics.csv: Permission denied")
    assert not (tmp_path / "m.csv").exists()


def unwritable(fault, tmp_path):
    """A folder that cannot be written: under a regular file, read-only, or (monkeypatched) on a full disk."""
    if fault == "under a file":
        (tmp_path / "a_file").write_text("")
        return tmp_path / "a_file" / "out"
    if fault == "read-only":
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "out"
    return tmp_path / "full" / "out"


REASONS = {"under a file": os.strerror(errno.ENOTDIR), "read-only": os.strerror(errno.EACCES), "disk full": NO_SPACE}
FAULTS = ["under a file", pytest.param("read-only", marks=needs_file_modes), "disk full"]


@pytest.mark.parametrize("fault", FAULTS)
def test_evaluate_with_unwritable_predictions(capsys, monkeypatch, run_copy, tmp_path, fault):
    run = without_results(run_copy)
    out = unwritable(fault, tmp_path)
    if fault == "disk full":
        fill_disk_on_write(monkeypatch, Image.Image, "save")
    code, err = run_cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--quiet", "--save-predictions", out)
    assert_one_line_error(code, err, f"cannot write {out}", REASONS[fault])
    assert_no_results(run)
    assert not (out.is_dir() and any(out.iterdir()))  # no prediction, not even a temporary one


@pytest.mark.parametrize("fault", FAULTS)
def test_aggregate_to_an_unwritable_path(capsys, monkeypatch, trained_run, tmp_path, fault):
    out = unwritable(fault, tmp_path) / "metrics.csv"
    if fault == "disk full":
        fill_disk_for_text(monkeypatch)
    code, err = run_cli(capsys, "aggregate", "--out", out, trained_run / "metrics.csv")
    assert_one_line_error(code, err, f"cannot write {out}", REASONS[fault])
    assert not out.exists() and not temp_files(tmp_path)


@pytest.mark.parametrize("fault", FAULTS)
def test_figures_to_an_unwritable_folder(capsys, monkeypatch, figure_metrics, tmp_path, fault):
    out = unwritable(fault, tmp_path)
    if fault == "disk full":  # figures are rendered in memory, then written as bytes
        fill_disk_on_bytes(monkeypatch)
    code, err = run_cli(capsys, "figures", "--metrics", figure_metrics, "--out", out, "--only", "trimap")
    assert_one_line_error(code, err, f"cannot write {out}", REASONS[fault])
    assert not (out.is_dir() and any(out.iterdir())) and not temp_files(tmp_path)


def test_figures_on_a_disk_that_fills_midway_leave_no_partial_file(capsys, monkeypatch, figure_metrics, tmp_path):
    fill_disk_on_bytes(monkeypatch, whole_files=1)
    out = tmp_path / "figures"
    code, err = run_cli(capsys, "figures", "--metrics", figure_metrics, "--out", out, "--only", "trimap")
    assert_one_line_error(code, err, f"cannot write {out / 'trimap.pdf'}: {NO_SPACE}")
    assert sorted(p.name for p in out.iterdir()) == ["trimap.png"]  # the one file written is whole
    assert (out / "trimap.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("fault", FAULTS)
def test_refresh_reference_to_an_unwritable_path(capsys, monkeypatch, trained_run, tmp_path, fault):
    reference = unwritable(fault, tmp_path) / "ci.csv"
    if fault == "disk full":
        fill_disk_for_text(monkeypatch)
    code, err = run_cli(capsys, "refresh-reference", "--metrics", trained_run / "metrics.csv", "--reference", reference)
    assert_one_line_error(code, err, f"cannot write {reference}", REASONS[fault])
    assert not reference.exists() and not reference.with_name("ci.provenance.json").exists()
    assert not temp_files(tmp_path)


def test_refresh_reference_on_a_full_disk_keeps_the_old_reference(capsys, monkeypatch, trained_run, tmp_path):
    reference = tmp_path / "ci.csv"
    assert main(["refresh-reference", "--metrics", str(trained_run / "metrics.csv"), "--reference", str(reference)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    fill_disk_for_text(monkeypatch)
    code, err = run_cli(capsys, "refresh-reference", "--metrics", trained_run / "metrics.csv", "--reference", reference)
    assert_one_line_error(code, err, f"cannot write {reference}: {NO_SPACE}")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_torch_save_on_a_full_disk_is_one_line(capsys, monkeypatch, trained_run, tmp_path):
    import torch

    def torch_save_on_a_full_disk(obj, target, *args, **kwargs):
        Path(target).write_bytes(b"PK half a zip")
        # What torch raises when the disk fills (no errno: the C++ stream writer's enforce failed).
        raise RuntimeError("[enforce fail at inline_container.cc:783] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    monkeypatch.setattr(torch, "save", torch_save_on_a_full_disk)
    monkeypatch.setattr(benchmark.io.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 0))
    bundle = tmp_path / "bundle"
    code, err = run_cli(capsys, "export-weights", trained_run, "--out", bundle)
    assert_one_line_error(code, err, "model.pt: " + NO_SPACE, "cannot write")
    assert not list(tmp_path.iterdir())  # no bundle, no staging folder


def test_a_writer_bug_with_space_left_is_not_called_a_full_disk(tmp_path):
    def buggy(target):
        raise RuntimeError("a bug in the writer")

    with pytest.raises(RuntimeError, match="a bug in the writer"):
        benchmark.io.atomic_write(tmp_path / "out.bin", buggy)
    assert not list(tmp_path.iterdir())


# -- B: evaluation -------------------------------------------------------------------------------

def test_an_all_ignore_split_is_skipped_not_nan(capsys, tiny_city, run_copy, tmp_path):
    city = shutil.copytree(tiny_city, tmp_path / "city")
    for label_map in (city / "gtFine" / "val").rglob("*_label*Ids.png"):
        ignored = 255 if "TrainIds" in label_map.name else 0  # labelId 0 (unlabeled) -> trainId 255
        Image.fromarray(np.full_like(np.array(Image.open(label_map)), ignored)).save(label_map)
    run = without_results(run_copy)
    edit_run_json(run, root=str(city))
    code, err = run_cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--quiet")
    assert code == 0, err
    rows = pd.read_csv(run / "metrics.csv")
    from_labels = rows[rows["metric"] != "eval_images_per_s"]
    assert set(from_labels["status"]) == {"skipped"}
    assert set(from_labels["reason"]) == {"no labelled pixels in split val"}
    assert {"miou", "miou_intrinsic", "class_frequency", "pixel_accuracy"} <= set(from_labels["metric"])


def test_a_failed_re_evaluation_leaves_old_metrics_and_counts(capsys, monkeypatch, run_copy):
    before = snapshot(run_copy)
    real_rows = MetricSuite.rows

    def rows_with_a_nan(self, *args, **kwargs):
        rows = real_rows(self, *args, **kwargs)
        return [dict(rows[0], value=float("nan"), status="ok")] + rows[1:]

    monkeypatch.setattr(MetricSuite, "rows", rows_with_a_nan)
    code, err = run_cli(capsys, "evaluate", "--run", run_copy, "--device", "cpu", "--quiet")
    assert_one_line_error(code, err, "metrics.csv: line", "has status ok but value nan, not a finite number")
    assert snapshot(run_copy) == before and not temp_files(run_copy)


@pytest.mark.parametrize("change,needle", [
    ({"resolution": "abc"}, "resolution"),
    ({"root": "/no/such/city"}, "/no/such/city"),
    ({"method": "edge_base"}, "did you mean edge_based"),
    ({"model": "unet3"}, "unknown model 'unet3'"),
    ({"dataset": "synthcty"}, "did you mean synthcity"),
])
def test_a_bad_run_config_is_refused_before_evaluating(capsys, run_copy, change, needle):
    run = without_results(run_copy)
    edit_run_json(run, **change)
    code, err = run_cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--quiet")
    assert_one_line_error(code, err, needle)
    assert_no_results(run)


def test_a_corrupt_model_is_refused(capsys, run_copy):
    run = without_results(run_copy)
    (run / "model.pt").write_bytes(b"not a checkpoint")
    code, err = run_cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--quiet")
    assert_one_line_error(code, err, "model.pt", "unreadable checkpoint")
    assert_no_results(run)


# -- C: no rows is bad input -----------------------------------------------------------------------

def test_aggregate_of_header_only_files(capsys, trained_run, tmp_path):
    empty = header_only(tmp_path, trained_run / "metrics.csv")
    out = tmp_path / "out.csv"
    code, err = run_cli(capsys, "aggregate", "--out", out, empty)
    assert_one_line_error(code, err, f"{empty}: no rows; run the DAG first")
    assert not out.exists()


def test_aggregate_of_a_runs_folder_without_rows(capsys, trained_run, tmp_path):
    header_only(tmp_path / "runs" / "a", trained_run / "metrics.csv")
    header_only(tmp_path / "runs" / "b", trained_run / "metrics.csv")
    out = tmp_path / "out.csv"
    code, err = run_cli(capsys, "aggregate", "--runs", tmp_path / "runs", "--out", out)
    assert_one_line_error(code, err, "no rows (nor do the other 1 files); run the DAG first")
    assert not out.exists()


def test_figures_of_a_header_only_metrics_file(capsys, figure_metrics, tmp_path):
    empty = header_only(tmp_path, figure_metrics)
    out = tmp_path / "figures"
    code, err = run_cli(capsys, "figures", "--metrics", empty, "--out", out)
    assert_one_line_error(code, err, f"{empty}: no rows; run the DAG first (or point --metrics at a metrics CSV with rows)")
    assert not out.exists()


def test_regress_against_a_header_only_reference(capsys, trained_run, tmp_path):
    empty = header_only(tmp_path, trained_run / "metrics.csv", "ci.csv")
    code, err = run_cli(capsys, "regress", "--metrics", trained_run / "metrics.csv", "--reference", empty,
                        "--tolerances", ROOT / "workflows/tolerances.yaml")
    assert_one_line_error(code, err, f"{empty}: no rows", "refresh it")


def test_refresh_reference_from_a_header_only_metrics_file(capsys, trained_run, tmp_path):
    empty = header_only(tmp_path, trained_run / "metrics.csv")
    reference = tmp_path / "ci.csv"
    code, err = run_cli(capsys, "refresh-reference", "--metrics", empty, "--reference", reference)
    assert_one_line_error(code, err, f"{empty}: no rows")
    assert not reference.exists() and not reference.with_name("ci.provenance.json").exists()


# -- D: messages name CSV lines and plain values -------------------------------------------------------

def broken_copy(tmp_path, source, column, value):
    """``source`` with ``column`` of its first data row (CSV line 2) set to ``value``."""
    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    df.loc[0, column] = value
    if column == "value":
        df.loc[0, "status"] = "ok"
    path = tmp_path / "broken.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("column,value,needle", [
    ("height", "sixteen", "line 2 has height 'sixteen', not an integer"),
    ("value", "nan", "line 2 (class_frequency) has status ok but value nan, not a finite number"),
    ("status", "fine", "line 2 has status 'fine', not one of ok, skipped, failed"),
])
def test_a_malformed_metrics_csv_names_its_line(capsys, trained_run, tmp_path, column, value, needle):
    bad = broken_copy(tmp_path, trained_run / "metrics.csv", column, value)
    out = tmp_path / "out.csv"
    code, err = run_cli(capsys, "aggregate", "--out", out, bad)
    assert_one_line_error(code, err, f"{bad}: {needle}")
    assert not out.exists()


def test_a_tolerance_that_is_not_a_number(capsys, trained_run, tmp_path):
    tolerances = tmp_path / "tolerances.yaml"
    tolerances.write_text("trained:\n  miou: {abs: yes}\n")
    code, err = run_cli(capsys, "regress", "--metrics", trained_run / "metrics.csv",
                        "--reference", trained_run / "metrics.csv", "--tolerances", tolerances)
    assert_one_line_error(code, err, "trained.miou.abs", "is a boolean, not a number")


def test_figures_only_an_unknown_id(capsys, figure_metrics, tmp_path):
    out = tmp_path / "figures"
    code, err = run_cli(capsys, "figures", "--metrics", figure_metrics, "--out", out, "--only", "trimap", "trimapp")
    assert_one_line_error(code, err, "trimapp")
    assert not out.exists()


def test_perf_of_an_unknown_benchmark(capsys):
    code, err = run_cli(capsys, "perf", "no-such-benchmark", "--quick")
    assert_one_line_error(code, err, "unknown perf benchmark 'no-such-benchmark'")


# -- E: the native-kernel cache --------------------------------------------------------------------------

@pytest.fixture
def fresh_native(monkeypatch, tmp_path):
    """No library loaded yet, and temporary folders under tmp_path."""
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setattr(native, "_private_dir", None)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))


def test_a_cache_folder_others_can_write_is_not_used(monkeypatch, tmp_path, fresh_native):
    shared = tmp_path / "shared_cache"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(shared))
    with pytest.warns(RuntimeWarning, match="can be written by other users"):
        folder = native.build_dir()
    assert folder != shared and folder.parent == tmp_path / "tmp"
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == os.getuid()


@pytest.mark.skipif(not AS_ROOT, reason="giving a folder to another user needs root")
def test_a_cache_folder_of_another_user_is_not_used(monkeypatch, tmp_path, fresh_native):
    theirs = tmp_path / "their_cache"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, -1)  # nobody
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(theirs))
    with pytest.warns(RuntimeWarning, match="or is not yours"):
        assert native.build_dir().parent == tmp_path / "tmp"


def test_a_new_cache_folder_is_private(monkeypatch, tmp_path, fresh_native):
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(tmp_path / "cache" / "native"))
    folder = native.build_dir()
    assert folder == tmp_path / "cache" / "native" and folder.stat().st_mode & 0o777 == 0o700


def test_a_library_others_can_write_is_not_loaded(monkeypatch, tmp_path, fresh_native):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DSBENCH_NATIVE_CACHE", str(cache))
    source = (native.SOURCE_DIR / "barycentric.c").read_bytes()
    planted = native.build_dir() / native._library_name("barycentric", source, native._compiler())
    planted.write_bytes(b"not a library")  # loading it would fail: the probe sees whether it was tried
    planted.chmod(0o666)
    assert native.load("barycentric") is not None
    assert planted.read_bytes() == b"not a library"
    assert list((tmp_path / "tmp").glob("dsbench-native-*/barycentric-*.so"))


# -- F: shell commands quote their paths ---------------------------------------------------------------

SPACED_EXPERIMENT = """
experiments:
  spaced:
    runs_dir: results/my runs
    metrics_csv: results/my metrics.csv
    figures_dir: results/my figures
    datasets: {synthcity: {generate: true, split_sizes: {train: 4, val: 2}, size: 64x128, seed: 0}}
    methods:
      uniform: {method: uniform}
      edge_based: {method: edge_based, prepare: {size_in: 16x32, size_out: 4x8, iters: 2, batch_size: 2}}
    resolutions: [16x32]
"""
# The rules of train.smk, data.smk, studies.smk, aggregate.smk and figures.smk.
QUOTED_RULES = {"make_data", "prepare", "train", "study", "aggregate", "figures"}


@pytest.mark.slow  # one Snakemake dry run (~25 s on 2 cores)
def test_shell_commands_quote_paths_with_spaces(tmp_path):
    import shlex

    config = tmp_path / "spaced.yaml"
    config.write_text(SPACED_EXPERIMENT)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                           "-n", "-p", "--cores", "1", "--configfile", str(config), "--config", "experiment=spaced",
                           "logs_dir=my logs"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    commands, rule = {}, None
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("Shell command: ") and rule in QUOTED_RULES:
            commands.setdefault(rule, []).append(line[len("Shell command: "):])
    assert set(commands) == QUOTED_RULES
    for rule, lines in commands.items():
        for command in lines:
            words = shlex.split(command)
            # An unquoted "results/my runs/x" splits into "results/my" and "runs/x".
            assert not [w for w in words if w == "my" or w.endswith("/my")], (rule, command)
            assert any("my logs/" in w for w in words), (rule, command)
