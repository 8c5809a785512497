"""End to end: an unchanged re-run passes `dsbench regress`; a degraded method is caught."""
from pathlib import Path

import pytest
import torch

import methods.uniform
from benchmark.aggregate import aggregate
from benchmark.cli import main
from benchmark.engine.evaluate import evaluate_run
from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import train
from benchmark.regress import regress

ROOT = Path(__file__).resolve().parents[2]
TOLERANCES = ROOT / "workflows" / "tolerances.yaml"


def run_once(root, runs, tag):
    out = runs / tag / "synthcity-uniform-unet-32x64-s0"
    cfg = RunConfig(dataset="synthcity", root=str(root), method="uniform", model="unet",
                    encoder="mobilenetv3_small_050", resolution=(32, 64), seed=0, out=str(out), iters=60,
                    batch_size=4, checkpoint_every=60, device="cpu")
    train(cfg, progress=False)
    evaluate_run(out, device="cpu", progress=False)
    csv = runs / f"{tag}.csv"
    aggregate(runs / tag, csv)
    return csv


@pytest.mark.slow  # trains three runs
def test_unchanged_rerun_passes_and_degraded_method_fails(small_city, tmp_path, monkeypatch, capsys):
    reference = run_once(small_city, tmp_path, "reference")
    again = run_once(small_city, tmp_path, "again")
    report, passed = regress(again, reference, TOLERANCES)
    assert passed, report[~report["passed"]]

    # Degrade uniform: blur its low-res input (a plausible bug in a resampling change).
    original = methods.uniform.Uniform.downsample_image

    def blurred(self, image_hr, grid_lr):
        image_lr = original(self, image_hr, grid_lr)
        return torch.nn.functional.avg_pool2d(image_lr, 5, stride=1, padding=2)

    monkeypatch.setattr(methods.uniform.Uniform, "downsample_image", blurred)
    degraded = run_once(small_city, tmp_path, "degraded")
    report, passed = regress(degraded, reference, TOLERANCES)
    assert not passed
    miou = report.query("metric == 'miou'")
    assert (miou["verdict"] != "ok").all(), miou
    assert main(["regress", "--metrics", str(degraded), "--reference", str(reference),
                 "--tolerances", str(TOLERANCES)]) == 1
    assert "miou" in capsys.readouterr().out
