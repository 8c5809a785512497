"""Pipeline cost by stage, its tidy rows, latency and memory."""
from __future__ import annotations

import time

import pytest
import torch

import methods  # noqa: F401  (registers the methods)
from benchmark.cost import STAGES, cost_rows, measure_latency, peak_memory_mib, pipeline_cost
from benchmark.errors import DsbenchError
from benchmark.models import MODELS, build_model
from benchmark.registry import METHODS
from benchmark.results import METRICS, provenance, to_frame, validate_rows

SIZE_HR, SIZE_LR = (32, 64), (16, 32)
NUM_CLASSES = 3


def _uniform_cost(model_key: str = "fcn32", encoder: str = "resnet10t", **kwargs):
    model = build_model(model_key, NUM_CLASSES, encoder=encoder)
    return model, pipeline_cost(METHODS.create("uniform"), model, SIZE_HR, SIZE_LR, **kwargs)


@pytest.mark.parametrize("key", MODELS.keys())
def test_no_unsupported_op_in_any_registered_model(key):
    # HRNetV2 reads an HRNet's branches: its smallest timm HRNet instead of the ResNet.
    _, cost = _uniform_cost(key, encoder="hrnet_w18_small" if key == "hrnetv2" else "resnet10t")
    assert cost["unsupported_ops"] == {}, f"{key}: count these ops or allowlist them: {cost['unsupported_ops']}"


def test_no_unsupported_op_with_a_mobilenet_encoder():
    # hardswish, hardsigmoid, squeeze-excitation multiplies, depthwise convs
    _, cost = _uniform_cost("unet", encoder="mobilenetv3_small_050")
    assert cost["unsupported_ops"] == {}


def test_stage_counts_match_hand_counts_for_uniform():
    model, cost = _uniform_cost()
    h, w = SIZE_LR
    H, W = SIZE_HR
    # sampler: bilinear grid_sample, 4 MACs per output element per channel; the uniform grid
    # itself is built from allowlisted constructors (linspace, meshgrid, stack).
    assert cost["stages"]["sampler"] == {"macs": 4 * 3 * h * w, "flops": 8 * 3 * h * w, "params": 0}
    # unsampler: bilinear upsampling of K logit maps, 4 MACs per output element.
    assert cost["stages"]["unsampler"] == {"macs": 4 * NUM_CLASSES * H * W, "flops": 8 * NUM_CLASSES * H * W,
                                           "params": 0}
    assert cost["stages"]["network"]["params"] == sum(p.numel() for p in model.parameters())
    assert cost["fraction_pixels_sampled"] == pytest.approx(h * w / (H * W)) == 0.25


def test_totals_are_integer_sums_and_flops_are_twice_macs():
    _, cost = _uniform_cost("deeplabv3plus")
    assert set(cost["stages"]) == set(STAGES)
    for numbers in list(cost["stages"].values()) + [cost]:
        assert all(isinstance(numbers[k], int) for k in ("macs", "flops", "params"))
        assert numbers["flops"] == 2 * numbers["macs"]
    for metric in ("macs", "flops", "params"):
        assert cost[metric] == sum(stage[metric] for stage in cost["stages"].values())


def test_learned_sampler_parameters_count_in_sampler_stage():
    method = METHODS.create("interpolation")
    cost = pipeline_cost(method, build_model("fcn32", NUM_CLASSES, encoder="resnet10t"), SIZE_HR, SIZE_LR)
    assert cost["stages"]["sampler"]["params"] == sum(p.numel() for p in method.parameters()) > 0
    assert cost["stages"]["sampler"]["macs"] > 4 * 3 * SIZE_LR[0] * SIZE_LR[1]


def test_cost_is_per_image_and_modes_are_restored():
    model = build_model("fcn32", NUM_CLASSES, encoder="resnet10t").train()
    method = METHODS.create("uniform")
    one = pipeline_cost(method, model, SIZE_HR, SIZE_LR, batch=1)
    two = pipeline_cost(method, model, SIZE_HR, SIZE_LR, batch=2)
    assert one == two
    assert model.training and method.training


def test_bad_sizes_and_batch_raise():
    model = build_model("fcn32", NUM_CLASSES, encoder="resnet10t")
    with pytest.raises(DsbenchError, match="size_lr"):
        pipeline_cost(METHODS.create("uniform"), model, SIZE_HR, (0, 32))
    with pytest.raises(DsbenchError, match="batch"):
        pipeline_cost(METHODS.create("uniform"), model, SIZE_HR, SIZE_LR, batch=0)


def test_cost_rows_are_valid_tidy_rows():
    _, cost = _uniform_cost()
    cost = dict(cost, unsupported_ops={"aten::cumprod": 2}, latency_ms=12.5, peak_memory_mib=3.0)
    identity = {"run_id": "r1", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "fcn32",
                "height": SIZE_LR[0], "width": SIZE_LR[1], "seed": 0}
    rows = cost_rows(identity, cost, provenance())
    df = validate_rows(to_frame(rows))
    assert all(df["unit"] == df["metric"].map(METRICS))
    macs = df[df.metric == "macs"].set_index("stage")["value"]
    assert set(macs.index) == {"sampler", "network", "unsampler", "total"}
    assert macs["total"] == cost["macs"] == macs.drop("total").sum()
    flops = df[df.metric == "flops"].set_index("stage")["value"]
    assert (flops == 2 * macs).all()
    unsupported = df[df.metric == "unsupported_ops"].set_index("class_name")["value"]
    assert unsupported.to_dict() == {"all": 2, "aten::cumprod": 2}
    assert df[df.metric == "latency_ms"]["value"].item() == 12.5
    assert df[df.metric == "fraction_pixels_sampled"]["value"].item() == 0.25
    assert (df["run_id"] == "r1").all() and (df["status"] == "ok").all()


def test_measure_latency_is_the_median_after_warmup():
    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.004)

    ms = measure_latency(fn, warmup=2, repeats=5)
    assert len(calls) == 7
    assert 4.0 <= ms < 200.0
    with pytest.raises(DsbenchError, match="repeats"):
        measure_latency(fn, repeats=0)


class _Allocates(torch.nn.Module):
    """A model whose forward pass holds a temporary tensor of ``mib`` MiB (touched)."""

    def __init__(self, mib: int):
        super().__init__()
        self.numel = mib * 2 ** 20 // 4  # float32

    def forward(self, image, labels=None):
        return image + torch.ones(self.numel).sum()

    def predict_multiscale(self, image, labels=None, scales=(1.0,), flip=False):  # the pipeline call _timed makes
        return self(image, labels)


# The kernel keeps RSS counters per thread / CPU and folds them in batches of pages, so VmRSS and
# VmHWM lag the true resident set by up to a few hundred KiB.
RSS_COUNTER_SLACK_MIB = 1.0


def test_peak_memory_sees_a_large_temporary_allocation_after_warm_up():
    image = torch.zeros(1, 3, 4, 4)
    large, small = _Allocates(64), _Allocates(0)
    with torch.inference_mode():
        # Warm-up first, as `dsbench flops` times latency before memory: the allocator then holds
        # the freed 64 MiB, which an RSS delta alone would reuse unseen (the old ~0.03 MiB rows).
        measure_latency(lambda: large(image), warmup=2, repeats=2)
        assert peak_memory_mib(lambda: large(image)) >= 64.0 - RSS_COUNTER_SLACK_MIB
        assert peak_memory_mib(lambda: small(image)) < 16.0


def test_peak_memory_that_cannot_be_measured_is_a_skipped_row(monkeypatch, tmp_path):
    import benchmark.cost.timing as timing
    from benchmark.cost.report import _timed

    monkeypatch.setattr(timing, "_CLEAR_REFS", str(tmp_path / "missing" / "clear_refs"))
    calls = []
    with pytest.raises(timing.MemoryNotMeasurable, match="high-water mark"):
        peak_memory_mib(lambda: calls.append(1))
    assert calls == []  # refused before the call
    timed = _timed(_Allocates(1), (4, 4), torch.device("cpu"))
    assert timed["latency_ms"] > 0 and "peak_memory_mib" not in timed
    _, cost = _uniform_cost()
    identity = {"run_id": "r1", "dataset": "synthcity", "split": "val", "method": "uniform", "model": "fcn32",
                "height": SIZE_LR[0], "width": SIZE_LR[1], "seed": 0}
    df = validate_rows(to_frame(cost_rows(identity, dict(cost, **timed), provenance())))
    memory = df[df.metric == "peak_memory_mib"]
    assert memory["status"].tolist() == ["skipped"] and memory["value"].isna().all()
    assert "cannot reset the resident-set high-water mark" in memory["reason"].item()


def test_nearest_unsampling_search_is_an_estimated_stage_in_the_total_and_rows():
    from benchmark.cost import ESTIMATED_STAGES
    from benchmark.ops.nearest_unsample import search_comparisons

    model = build_model("fcn32", NUM_CLASSES, encoder="resnet10t")
    method = METHODS.create("deformation")
    assert method.unsample_mode == "nearest"
    cost = pipeline_cost(method, model, SIZE_HR, SIZE_LR)
    h, w = SIZE_LR
    H, W = SIZE_HR
    # 512 grid points: 9 tree levels; build 9 x 512, queries 9 x 2 x 2048.
    assert search_comparisons(h * w, H * W) == 9 * (512 + 2 * 2048) > 0
    assert cost["stages"]["unsampler_search"] == {"macs": 9 * (512 + 2 * 2048), "flops": 18 * (512 + 2 * 2048),
                                                  "params": 0}
    assert cost["macs"] == sum(stage["macs"] for stage in cost["stages"].values())
    rows = to_frame(cost_rows({"run_id": "r", "dataset": "d", "split": "val", "track": "t", "method": "deformation",
                               "params": "{}", "model": "fcn32", "height": h, "width": w, "seed": 0}, cost))
    search = rows[rows["stage"] == "unsampler_search"]
    assert set(search["metric"]) == {"macs", "flops", "params"}
    assert (search["reason"] == ESTIMATED_STAGES["unsampler_search"]).all()
    total = rows[(rows["stage"] == "total") & (rows["metric"] == "macs")]
    assert "unsampler_search" in total["reason"].iloc[0]


def test_traced_unsamplers_have_no_estimated_stage():
    _, cost = _uniform_cost()
    assert set(cost["stages"]) == set(STAGES)
