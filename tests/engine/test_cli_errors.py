"""Bad input: a one-line error naming the file or key and the fix, exit 2, no partial output."""
import subprocess
import sys

import pytest

from benchmark.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def train_args(root, out, **over):
    args = {"--dataset": "synthcity", "--root": str(root), "--method": "uniform", "--model": "unet",
            "--encoder": "mobilenetv3_small_050", "--resolution": "16x32", "--out": str(out), "--iters": "1",
            "--batch-size": "2", "--device": "cpu"}
    args.update(over)
    return [x for kv in args.items() for x in kv] + ["--quiet"]


def assert_one_line_error(code, err, *needles):
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def test_missing_dataset_root(capsys, tmp_path):
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *train_args(tmp_path / "nowhere", out))
    assert_one_line_error(code, err, "nowhere", "dsbench make-data")
    assert not out.exists()


@pytest.mark.parametrize("flag,value,needle", [
    ("--method", "edge_base", "did you mean edge_based"),
    ("--model", "unet3", "unknown model"),
    ("--dataset", "synthcty", "did you mean synthcity"),
])
def test_unknown_keys(capsys, tiny_city, tmp_path, flag, value, needle):
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out, **{flag: value}))
    assert_one_line_error(code, err, value, needle)
    assert not out.exists()


@pytest.mark.parametrize("resolution", ["0x32", "-16x32", "16by32"])
def test_bad_resolution_is_a_usage_error(tiny_city, tmp_path, resolution):
    argv = [a for a in train_args(tiny_city, tmp_path / "r") if a not in ("--resolution", "16x32")]
    proc = subprocess.run([sys.executable, "-m", "benchmark", "train", *argv, f"--resolution={resolution}"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--resolution" in proc.stderr and ("HxW" in proc.stderr or "positive" in proc.stderr), proc.stderr
    assert not (tmp_path / "r").exists()


def test_unreadable_weights(capsys, tiny_city, tmp_path):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out, **{"--weights": str(bad)}))
    assert_one_line_error(code, err, "weights.pt")
    assert not out.exists()


def test_unreadable_checkpoint_on_resume(capsys, tiny_city, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"garbage")
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out))
    assert_one_line_error(code, err, "checkpoint.pt", "delete it")


def test_evaluate_a_folder_that_is_not_a_run(capsys, tmp_path):
    code, err = run_cli(capsys, "evaluate", "--run", str(tmp_path))
    assert_one_line_error(code, err, "run.json", "dsbench train")
    assert not (tmp_path / "metrics.csv").exists()


def test_unknown_method_option(capsys, tiny_city, tmp_path):
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *train_args(tiny_city, out), "--option", "lamda=1")
    assert_one_line_error(code, err, "lamda", "options are")
    assert not out.exists()


def test_flops_of_untrained_pipeline_json(capsys):
    import json

    assert main(["flops", "--model", "fcn32", "--method", "uniform", "--encoder", "resnet18", "--resolution", "64x128", "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert cost["flops"] == 2 * cost["macs"] and set(cost["stages"]) == {"sampler", "network", "unsampler"}
    assert cost["macs"] == sum(s["macs"] for s in cost["stages"].values())


@pytest.mark.parametrize("flag,value,needle", [
    ("--iters", "0", "iters=0 must be a positive integer"),
    ("--iters", "-3", "iters=-3 must be a positive integer"),
    ("--batch-size", "0", "batch_size=0 must be a positive integer"),
    ("--checkpoint-every", "0", "checkpoint_every=0 must be a positive integer"),
    ("--lr", "nan", "lr=nan must be a finite number > 0"),
    ("--lr", "-0.1", "lr=-0.1 must be a finite number > 0"),
    ("--seed", "-1", "seed=-1 must be an integer >= 0"),
])
def test_bad_training_settings_are_refused_before_anything_is_written(capsys, tmp_path, flag, value, needle):
    out = tmp_path / "run"
    code, err = run_cli(capsys, "train", *train_args(tmp_path, out, **{flag: value}))
    assert_one_line_error(code, err, needle)
    assert not out.exists()


def test_a_malformed_run_json_is_a_one_line_error(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"dataset": "synthcity", "root": "x", "method": "uniform", "model": "unet", '
                                  '"resolution": "abc"}')
    code, err = run_cli(capsys, "evaluate", "--run", str(run), "--device", "cpu")
    assert_one_line_error(code, err, "run.json", "resolution")


def test_regress_and_refresh_name_their_files():
    for verb in ("regress", "refresh-reference"):
        with pytest.raises(SystemExit) as stop:
            main([verb])
        assert stop.value.code == 2  # argparse: --metrics and --reference are required
