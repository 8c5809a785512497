"""One contract suite over every registered method: a new file in methods/ is covered here
without writing a test (give it options below only if its defaults cannot run alone)."""
import pytest
import torch

import methods  # noqa: F401
from benchmark.engine.pipeline import SegmentationPipeline
from benchmark.errors import DsbenchError
from benchmark.models import build_model
from benchmark.registry import METHODS
from benchmark.ops.sampling import LABEL_SAMPLERS, UNSAMPLERS
from methods.base import DownsamplingMethod

K = 5  # classes in the toy problem
SIZE_HR = (48, 80)


def contract_options(key, tmp_path):
    """Options a method needs to run at all (files it reads); empty for most."""
    if key == "edge_based":
        from methods.edge_based.method import make_untrained_checkpoint

        return {"aux_checkpoint": make_untrained_checkpoint(tmp_path / "aux.pt")}
    return {}



def toy_batch(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(batch, *SIZE_HR, dtype=torch.long)
    labels[:, 20:, :] = 1                       # a horizon
    labels[:, 10:30, 30:34] = 2                 # a pole
    labels[:, 30:40, 50:60] = 3                 # a small object
    labels[:, -4:, :] = 255                     # ignore region
    image = torch.rand(batch, 3, *SIZE_HR, generator=g) * 0.2 + labels.clamp(max=K).unsqueeze(1) / K
    return image.clamp(0, 1), labels


@pytest.fixture(params=METHODS.keys())
def method(request, tmp_path):
    return METHODS.get(request.param).from_options(contract_options(request.param, tmp_path))


def test_is_a_registered_downsampling_method(method):
    assert isinstance(method, DownsamplingMethod)
    assert METHODS.get(method.name) is type(method)
    assert method.label_mode in LABEL_SAMPLERS
    assert method.unsample_mode in UNSAMPLERS


@pytest.mark.parametrize("size_lr", [(8, 16), (12, 20)])
def test_sampler_gives_a_grid_inside_the_image(method, size_lr):
    image, labels = toy_batch()
    method.eval()
    grid = method.sampler(image, size_lr, labels if method.uses_labels_at_eval else None)
    assert grid.shape == (2, *size_lr, 2)
    assert torch.isfinite(grid).all()
    assert grid.min() >= -1 - 1e-5 and grid.max() <= 1 + 1e-5


def test_training_step_and_full_resolution_prediction(method):
    torch.manual_seed(0)
    model = build_model("fcn32", K, encoder="resnet18")
    pipeline = SegmentationPipeline(method, model, (16, 32), K).train()
    image, labels = toy_batch()
    loss, extras = pipeline.training_loss(image, labels)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    pipeline.eval()
    with torch.no_grad():
        logits_hr, grid = pipeline.predict(image, labels)
    assert logits_hr.shape == (2, K, *SIZE_HR)
    assert torch.isfinite(logits_hr).all()


def test_unknown_option_is_refused_with_the_known_ones(method):
    with pytest.raises(DsbenchError, match="has no option"):
        type(method).from_options({"no_such_option": 1})


def test_options_round_trip(method):
    again = type(method).from_options(method.options())
    assert again.options() == method.options()


def test_whole_pipeline_cost_is_counted_without_unsupported_ops(method):
    from benchmark.cost import pipeline_cost

    model = build_model("fcn32", K, encoder="resnet18")
    cost = pipeline_cost(method, model, SIZE_HR, (16, 32))
    assert cost["unsupported_ops"] == {}, cost["unsupported_ops"]
    assert all(isinstance(v["macs"], int) and v["macs"] >= 0 for v in cost["stages"].values())
    assert cost["stages"]["unsampler"]["macs"] > 0  # bringing predictions back always costs something
