"""Training under faults: two trainings on one folder, interruptions and Ctrl-C, failed starts,
sizes that cannot be allocated, output folders that cannot be written."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmark.cli import main
from benchmark.engine import train as train_module
from benchmark.engine.run_config import RUN_FILE, RunConfig
from benchmark.engine.train import CHECKPOINT, FINAL, LOCK, ROWS, RunLock, load_checkpoint, train
from benchmark.errors import DsbenchError
from benchmark.results import read_rows

ROOT = Path(__file__).resolve().parents[2]
ENCODER = "mobilenetv3_small_050"


def config(root, out, **kw):
    base = dict(dataset="synthcity", root=str(root), method="uniform", model="unet", encoder=ENCODER,
                resolution=(16, 32), seed=0, out=str(out), iters=6, batch_size=2, checkpoint_every=2, device="cpu")
    base.update(kw)
    return RunConfig(**base)


def train_args(root, out, **over):
    args = {"--dataset": "synthcity", "--root": str(root), "--method": "uniform", "--model": "unet",
            "--encoder": ENCODER, "--resolution": "16x32", "--out": str(out), "--iters": "2",
            "--batch-size": "2", "--device": "cpu"}
    args.update(over)
    return [x for kv in args.items() for x in kv] + ["--quiet"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def weights(run_dir):
    return torch.load(Path(run_dir) / FINAL, weights_only=True)["pipeline"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def train_loss(run_dir):
    return read_rows(Path(run_dir) / ROWS).query("metric == 'train_loss'")["value"].tolist()


def listing(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()}


# ---------------------------------------------------------------- 1. two trainings, one folder

HOLD = ("import sys; from pathlib import Path; from benchmark.engine.train import RunLock; "
        "run = Path(sys.argv[1]); run.mkdir(parents=True, exist_ok=True); RunLock(run).acquire(); "
        "print('locked', flush=True); sys.stdin.read()")


def hold_lock(run_dir):
    """Another process holding the run folder's lock, as a training in progress would."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_run_folder_being_trained_is_refused_with_the_holders_pid(capsys, tiny_city, tmp_path):
    out = tmp_path / "run"
    holder = hold_lock(out)
    try:
        code, err = run_cli(capsys, "train", *train_args(tiny_city, out))
        assert_one_line_error(code, err, f"{out} is being trained by pid {holder.pid}", f"(lock {out / LOCK})",
                              "wait for it or use another --out")
        assert sorted(os.listdir(out)) == [LOCK]  # the refused call wrote nothing
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    # the holder is gone: the folder trains, and the finished run keeps no lock file
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out))
    assert code == 0, err
    assert (out / FINAL).is_file() and not (out / LOCK).exists()


def test_a_lock_left_by_a_killed_training_does_not_block_a_rerun(capsys, tiny_city, tmp_path):
    out = tmp_path / "run"
    holder = hold_lock(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=60)
    assert (out / LOCK).read_text().strip() == str(holder.pid)  # the file stays; the lock died with it
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out))
    assert code == 0, err
    assert (out / FINAL).is_file() and not (out / LOCK).exists()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(DsbenchError, match=f"being trained by pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released: it can be taken again
        pass
    assert not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("state", ["run.json only", "checkpoint", "finished"])
def test_a_run_folder_is_not_overwritten_by_other_settings(tiny_city, tmp_path, state):
    out = tmp_path / "run"
    first = config(tiny_city, out, iters=4)
    if state == "run.json only":  # a training killed before its first checkpoint
        out.mkdir()
        first.save(out)
    else:
        train(first, progress=False, stop_after=1 if state == "checkpoint" else None)
    before = listing(out)
    with pytest.raises(DsbenchError, match=r"run holds a run with other settings: iters 4 -> 6, lr 0.001 -> 0.5; "
                                           r"use a fresh --out folder"):
        train(config(tiny_city, out, lr=0.5), progress=False)
    assert listing(out) == before  # refused before anything was written


def test_another_eval_split_is_not_another_run(tiny_city, tmp_path):
    out = tmp_path / "run"
    train(config(tiny_city, out, iters=2), progress=False, stop_after=1)
    assert train(config(tiny_city, out, iters=2, eval_split="train"), progress=False)["status"] == "ok"


def test_evaluate_refuses_weights_trained_with_other_settings(capsys, tiny_city, tmp_path):
    out = tmp_path / "run"
    train(config(tiny_city, out, iters=1), progress=False)
    data = json.loads((out / RUN_FILE).read_text())
    data["lr"] = 0.5  # run.json edited (or copied over) after training
    (out / RUN_FILE).write_text(json.dumps(data))
    code, err = run_cli(capsys, "evaluate", "--run", str(out), "--device", "cpu", "--quiet")
    assert_one_line_error(code, err, str(out / FINAL), str(out / RUN_FILE), "other settings", "retrain")
    assert not (out / "metrics.csv").exists()


def test_committed_reference_weights_carry_their_run_json_fingerprint():
    bundles = sorted(p.parent for p in (ROOT / "results" / "reference" / "ci_weights").glob(f"*/{RUN_FILE}"))
    assert bundles
    for bundle in bundles:
        state = torch.load(bundle / FINAL, map_location="cpu", weights_only=True)
        assert state["fingerprint"] == RunConfig.load(bundle).training_fingerprint(), bundle.name


# ---------------------------------------------------------------- 2, 3. resume logs the same numbers

RESUME = dict(iters=12, checkpoint_every=4)  # 12 iterations: the loss window (10) is not all of them


@pytest.fixture(scope="module")
def uninterrupted(tiny_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    # Module scope runs before the suite's function-scoped single_thread fixture: pin the thread
    # count here too, or the reductions round differently from the tests' own runs.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert train(config(tiny_city, out, **RESUME), progress=False)["status"] == "ok"
    finally:
        torch.set_num_threads(previous)
    return out


@pytest.mark.parametrize("stops", [
    (3,),         # mid-interval
    (4,),         # exactly at a checkpoint
    (11,),        # after the last periodic checkpoint
    (12,),        # checkpoint of the last iteration written, model.pt not yet
    (1, 6, 2),    # several interruptions
])
def test_a_resumed_run_logs_what_an_uninterrupted_one_logs(tiny_city, tmp_path, uninterrupted, stops):
    out = tmp_path / "run"
    done = 0
    for stop in stops:
        done += stop
        assert train(config(tiny_city, out, **RESUME), progress=False, stop_after=stop) == {
            "status": "interrupted", "iteration": done}
        assert load_checkpoint(out / CHECKPOINT)["iteration"] == done and not (out / FINAL).exists()
    assert train(config(tiny_city, out, **RESUME), progress=False)["status"] == "ok"
    assert_same_weights(weights(uninterrupted), weights(out))
    assert train_loss(out) == train_loss(uninterrupted) and len(train_loss(out)) == 1
    rows = read_rows(out / ROWS)
    assert len(rows.query("metric == 'train_iters_per_s'")) == 1  # the timing travelled too


def test_a_finished_run_keeps_no_checkpoint_and_is_not_retrained(tiny_city, uninterrupted):
    assert not (uninterrupted / CHECKPOINT).exists()
    assert sorted(os.listdir(uninterrupted)) == sorted([RUN_FILE, FINAL, ROWS])
    before = listing(uninterrupted)
    assert train(config(tiny_city, uninterrupted, **RESUME), progress=False)["status"] == "done"
    assert listing(uninterrupted) == before


# ---------------------------------------------------------------- 4. sizes that cannot be allocated

def test_a_resolution_too_large_to_allocate_is_refused_before_anything(capsys, tiny_city, tmp_path, monkeypatch):
    def no_dataset(*args, **kwargs):
        raise AssertionError("the dataset was built before the size was checked")

    monkeypatch.setattr(train_module, "build_dataset", no_dataset)
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out, **{"--resolution": "99999x99999"}))
    # 2 x 3 x 99999 x 99999 float32 = 223.5 GiB
    assert_one_line_error(code, err, "resolution 99999x99999 is too large", "needs 223.5 GiB", "of memory on cpu",
                          "smaller --resolution or --batch-size")
    assert not out.exists()


# ---------------------------------------------------------------- 5. Ctrl-C

def test_ctrl_c_keeps_the_last_checkpoint_and_releases_the_lock(tiny_city, tmp_path, monkeypatch, uninterrupted):
    out = tmp_path / "run"
    real_collate, batches = train_module._collate, []

    def ctrl_c_at_iteration_7(samples, device):
        batches.append(1)
        if len(batches) == 7:
            raise KeyboardInterrupt
        return real_collate(samples, device)

    monkeypatch.setattr(train_module, "_collate", ctrl_c_at_iteration_7)
    with pytest.raises(KeyboardInterrupt):
        train(config(tiny_city, out, **RESUME), progress=False)
    monkeypatch.undo()
    assert load_checkpoint(out / CHECKPOINT)["iteration"] == 4  # the last checkpoint, whole
    assert not (out / LOCK).exists()
    RunLock(out).acquire().release()  # nobody holds it
    assert train(config(tiny_city, out, **RESUME), progress=False)["status"] == "ok"
    assert_same_weights(weights(uninterrupted), weights(out))
    assert train_loss(out) == train_loss(uninterrupted)


def test_ctrl_c_while_a_checkpoint_is_written_keeps_the_previous_one(tiny_city, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_save, saves = torch.save, []

    def ctrl_c_in_the_second_save(obj, path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 2:
            Path(path).write_bytes(b"half a checkpoint")
            raise KeyboardInterrupt
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", ctrl_c_in_the_second_save)
    with pytest.raises(KeyboardInterrupt):
        train(config(tiny_city, out, **RESUME), progress=False)
    monkeypatch.undo()
    assert load_checkpoint(out / CHECKPOINT)["iteration"] == 4
    assert sorted(os.listdir(out)) == sorted([RUN_FILE, CHECKPOINT])  # no temporary file, no lock


# ---------------------------------------------------------------- 6. a failed start leaves nothing behind

@pytest.fixture(scope="module")
def corrupt_city(tiny_city, tmp_path_factory):
    """The tiny synthcity with every training label PNG corrupt (found at the first iteration)."""
    root = tmp_path_factory.mktemp("corrupt") / "city"
    shutil.copytree(tiny_city, root)
    for label in root.glob("gtFine/train/*/*.png"):
        label.write_bytes(b"not a png")
    return root


def test_a_failed_start_in_a_new_folder_leaves_nothing(capsys, corrupt_city, tmp_path):
    out = tmp_path / "new" / "runs" / "run"
    code, err = run_cli(capsys, "train", *train_args(corrupt_city, out))
    assert_one_line_error(code, err, "cannot read PNG")
    assert not (tmp_path / "new").exists()  # with the folders it created


def test_a_failed_start_in_an_empty_folder_keeps_the_folder_only(capsys, corrupt_city, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    code, err = run_cli(capsys, "train", *train_args(corrupt_city, out))
    assert_one_line_error(code, err, "cannot read PNG")
    assert out.is_dir() and os.listdir(out) == []


def test_a_failed_start_never_deletes_a_previous_runs_files(capsys, tiny_city, corrupt_city, tmp_path):
    out = tmp_path / "run"
    train(config(tiny_city, out, iters=2), progress=False, stop_after=1)  # a previous, partial run
    (out / "notes.txt").write_text("mine")
    # the same run, its data now corrupt (the dataset root is not part of the run's settings)
    code, err = run_cli(capsys, "train", *train_args(corrupt_city, out))
    assert_one_line_error(code, err, "cannot read PNG")
    assert {RUN_FILE, CHECKPOINT, "notes.txt"} <= set(os.listdir(out))
    assert (out / "notes.txt").read_text() == "mine" and not (out / LOCK).exists()


# ---------------------------------------------------------------- 7. an output folder that cannot be written

def test_out_under_a_regular_file(capsys, tiny_city, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run_cli(capsys, "train", *train_args(tiny_city, blocker / "run"))
    assert_one_line_error(code, err, f"cannot write run folder {blocker / 'run'}: Not a directory")
    assert blocker.read_text() == "x" and sorted(os.listdir(tmp_path)) == ["file"]


def test_out_is_a_regular_file(capsys, tiny_city, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = run_cli(capsys, "train", *train_args(tiny_city, blocker))
    assert_one_line_error(code, err, f"cannot write run folder {blocker}: a file of that name exists")
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
@pytest.mark.parametrize("inside", [True, False])
def test_out_in_a_read_only_folder(capsys, tiny_city, tmp_path, inside):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        out = locked / "run" if inside else locked
        code, err = run_cli(capsys, "train", *train_args(tiny_city, out))
        assert_one_line_error(code, err, f"cannot write run folder {out}: Permission denied")
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)
