"""Multi-scale testing (``dsbench evaluate --scales ... --flip``, the workflow's ``eval:``): the
logits at every scale (and mirrored, with flip) at the label size, averaged; single scale unchanged."""
import pytest
import torch
import torch.nn as nn

import methods.uniform
from benchmark.cli import main
from benchmark.engine.evaluate import evaluate_run
from benchmark.engine.pipeline import SegmentationPipeline, scaled_size
from benchmark.engine.train import train
from benchmark.results import read_rows
from test_cli_errors import assert_one_line_error, run_cli
from test_train_evaluate import config

NUM_CLASSES = 3
PSPNET_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def toy_pipeline(model: nn.Module, size_lr=(8, 12)) -> SegmentationPipeline:
    return SegmentationPipeline(methods.uniform.Uniform(), model, size_lr, NUM_CLASSES).eval()


def pointwise_model() -> nn.Module:
    """A 1x1 convolution: each output pixel depends on its input pixel alone, so the model commutes
    with any resampling of a constant image and with mirroring."""
    torch.manual_seed(0)
    return nn.Conv2d(3, NUM_CLASSES, kernel_size=1)


def lopsided_model() -> nn.Module:
    """A 1x3 kernel weighing only the left neighbour: not mirror-symmetric, so flipping changes it."""
    model = nn.Conv2d(3, NUM_CLASSES, kernel_size=(1, 3), padding=(0, 1), bias=False)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[:, :, 0, 0] = torch.randn(NUM_CLASSES, 3, generator=torch.Generator().manual_seed(1))
    return model


def test_scale_one_without_flip_is_the_single_scale_prediction_bit_for_bit():
    pipeline = toy_pipeline(lopsided_model())
    image = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        single, grid = pipeline.predict(image)
        multi, multi_grid = pipeline.predict_multiscale(image, scales=(1.0,), flip=False)
    assert torch.equal(single, multi) and torch.equal(grid, multi_grid)


def test_a_scale_equivariant_model_on_a_constant_image_gives_the_single_scale_logits():
    # Resampling a constant image at any size gives the same constant, and a pointwise model maps it
    # to the same logits: the average over scales must be the single-scale result (a sum left
    # undivided, or logits left at the network's size, would not be).
    pipeline = toy_pipeline(pointwise_model())
    image = torch.rand(2, 3, 1, 1, generator=torch.Generator().manual_seed(3)).expand(2, 3, 40, 56).contiguous()
    with torch.inference_mode():
        single, _ = pipeline.predict(image)
        multi, grid = pipeline.predict_multiscale(image, scales=PSPNET_SCALES, flip=True)
    assert multi.shape == single.shape == (2, NUM_CLASSES, 40, 56)
    assert torch.allclose(multi, single, atol=1e-5)
    assert grid.shape[1:3] == (8, 12)  # the run's own grid, for the intrinsic metrics


def test_flip_mirrors_back_before_averaging():
    image = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        pointwise = toy_pipeline(pointwise_model())  # mirror-equivariant: flip must change nothing
        assert torch.allclose(pointwise.predict_multiscale(image, flip=True)[0], pointwise.predict(image)[0],
                              atol=1e-5)
        lopsided = toy_pipeline(lopsided_model())    # not: flip is really averaged in
        flipped = lopsided.predict_multiscale(image, flip=True)[0]
        single = lopsided.predict(image)[0]
        mirrored = lopsided.predict(image.flip(-1))[0].flip(-1)
    assert not torch.allclose(flipped, single, atol=1e-3)
    assert torch.allclose(flipped, (single + mirrored) / 2, atol=1e-6)


def test_each_scale_is_the_run_resolution_times_the_factor_and_the_mean_is_taken_at_the_label_size():
    pipeline = toy_pipeline(lopsided_model(), size_lr=(8, 12))
    image = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(5))
    assert scaled_size((8, 12), 0.5) == (4, 6) and scaled_size((8, 12), 1.75) == (14, 21)
    with torch.inference_mode():
        multi, _ = pipeline.predict_multiscale(image, scales=(0.5, 1.75))
        expected = (pipeline.predict(image, size_lr=(4, 6))[0] + pipeline.predict(image, size_lr=(14, 21))[0]) / 2
    assert torch.allclose(multi, expected, atol=1e-6)


def test_evaluate_at_scale_one_gives_todays_rows_and_multiscale_rows_name_their_protocol(tiny_city, tmp_path):
    run = tmp_path / "run"
    train(config(tiny_city, run, iters=1), progress=False)
    numbers = ["metric", "class_name", "stage", "value"]

    files = []

    def rows(**protocol):
        files.append(evaluate_run(run, device="cpu", progress=False, **protocol).name)
        frame = read_rows(run / files[-1])
        frame = frame[frame["metric"] != "eval_images_per_s"]  # a timing: differs between any two runs
        return frame

    today = rows()
    at_one = rows(scales=[1.0], flip=False)
    assert today[numbers].equals(at_one[numbers]) and set(at_one["split"]) == {"val"}
    assert today["config_hash"].tolist() == at_one["config_hash"].tolist()
    multi = rows(scales=[0.5, 1.0], flip=True)
    assert set(multi["split"]) == {"val-multiscale-flip"}
    # its own file: a run evaluated both ways keeps both
    assert files == ["metrics.csv", "metrics.csv", "metrics-multiscale-flip.csv"] and (run / "metrics.csv").is_file()
    assert multi["config_hash"].iloc[0] != today["config_hash"].iloc[0]
    # the intrinsic error is the run's own grid's, whatever the test protocol
    intrinsic = "metric == 'miou_intrinsic'"
    assert multi.query(intrinsic)["value"].item() == today.query(intrinsic)["value"].item()


@pytest.mark.parametrize("scales,needle", [(["0"], "scale 0.0 must be a finite number > 0"),
                                           (["nan"], "scale nan must be a finite number > 0")])
def test_a_bad_scale_is_a_one_line_error(capsys, tmp_path, scales, needle):
    code, err = run_cli(capsys, "evaluate", "--run", str(tmp_path), "--scales", *scales, "--quiet")
    assert_one_line_error(code, err, "--scales", needle)


def test_multiscale_cost_counts_every_pass_under_its_own_split(tiny_city, tmp_path, capsys):
    from benchmark.cost.pipeline import pipeline_cost
    from benchmark.engine.train import load_trained_pipeline

    run = tmp_path / "run"
    train(config(tiny_city, run, iters=1), progress=False)
    assert main(["evaluate", "--run", str(run), "--device", "cpu", "--cost", "--quiet"]) == 0
    single = read_rows(run / "cost.csv")
    assert main(["evaluate", "--run", str(run), "--device", "cpu", "--cost", "--quiet",
                 "--scales", "0.5", "1.0", "--flip"]) == 0
    capsys.readouterr()
    both = read_rows(run / "cost.csv")
    total = "metric == 'macs' and stage == 'total'"
    assert set(both["split"]) == {"val", "val-multiscale-flip"}
    # the single-scale rows stay what a single-scale evaluation writes
    assert both.query(f"split == 'val' and {total}")["value"].item() == single.query(total)["value"].item()
    cfg, pipeline = load_trained_pipeline(run, torch.device("cpu"))
    size_hr = (64, 128)
    labels = torch.zeros(1, *size_hr, dtype=torch.long)
    passes = sum(pipeline_cost(pipeline.method, pipeline.model, size_hr, scaled_size(cfg.resolution, s),
                               labels_hr=labels)["macs"] for s in (0.5, 1.0))
    average = 2 * 2 * pipeline.model.num_classes * size_hr[0] * size_hr[1]  # 4 passes, one MAC per logit
    multi = both[both["split"] == "val-multiscale-flip"]
    assert multi.query(total)["value"].item() == 2 * passes + average
    assert multi.query("metric == 'macs' and stage == 'average'")["value"].item() == average
    assert "latency_ms" in set(multi["metric"]) and multi["config_hash"].iloc[0] != single["config_hash"].iloc[0]
