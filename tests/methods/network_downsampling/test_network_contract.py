"""The network-downsampling track's contract suite: every member of NETWORK_METHODS (and a
trivial member this test defines, so the suite runs before the first real member lands) wraps a
segmentation model without changing its feed-forward parameters, keeps its output contract,
and trains, evaluates and is costed through the same engine as input downsampling."""
import dataclasses

import pytest
import torch
import torch.nn as nn

import methods  # noqa: F401
from benchmark.data.synthcity import make_synthcity
from benchmark.engine.evaluate import evaluate_run
from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import build_pipeline, train
from benchmark.models import build_model
from benchmark.registry import NETWORK_METHODS
from benchmark.results import read_rows
from benchmark.tracks import NETWORK_DOWNSAMPLING, find_method
from methods.base import MethodConfig, NetworkDownsamplingMethod

TRIVIAL = "contract_bilinear_wrap"


class ResizeHead(nn.Module):
    """The trivial member's wrapper: the model as it is, its logits resized by nearest instead
    of bilinear (the same feed-forward path, another way to recover resolution)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image):
        logits = self.model.decode(self.model.encoder(image))
        return nn.functional.interpolate(logits, size=image.shape[-2:], mode="nearest")


@NETWORK_METHODS.register(TRIVIAL)
class ContractNearestWrap(NetworkDownsamplingMethod):
    name = TRIVIAL

    @dataclasses.dataclass
    class Config(MethodConfig):
        pass

    def wrap(self, model):
        return ResizeHead(model)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    root = tmp_path_factory.mktemp("city")
    make_synthcity(root, split_sizes={"train": 4, "val": 2}, size=(64, 128), seed=0)
    return root


@pytest.fixture(params=NETWORK_METHODS.keys())
def member(request):
    return request.param


def test_members_are_found_in_their_track(member):
    track, cls = find_method(member)
    assert track is NETWORK_DOWNSAMPLING and issubclass(cls, NetworkDownsamplingMethod)
    assert cls.track == "network_downsampling"


def test_wrap_keeps_the_feed_forward_parameters_and_the_output_contract(member):
    method = find_method(member)[1].from_options({})
    model = build_model("fcn32", 5, encoder="resnet18")
    base = [p.detach().clone() for p in model.parameters()]
    wrapped = method.wrap(model)
    wrapped_params = [q.detach() for q in wrapped.parameters()]
    # every feed-forward weight is in the wrapped model, unchanged (shared or copied)
    assert all(any(q.shape == p.shape and torch.equal(q, p) for q in wrapped_params) for p in base)
    for size in ((64, 96), (65, 97)):
        out = wrapped(torch.rand(2, 3, *size))
        assert out.shape == (2, 5, *size) and torch.isfinite(out).all()


def test_members_train_evaluate_and_are_costed_through_the_engine(member, city, tmp_path):
    from benchmark.cost.report import cost_of_run

    out = tmp_path / member
    cfg = RunConfig(dataset="synthcity", root=str(city), method=member, model="fcn32", encoder="resnet18",
                    resolution=(64, 128), seed=0, out=str(out), iters=2, batch_size=2, checkpoint_every=2,
                    device="cpu")
    assert isinstance(build_pipeline(cfg).model, nn.Module)
    train(cfg, progress=False)
    rows = read_rows(evaluate_run(out, device="cpu", progress=False))
    assert set(rows["track"]) == {"network_downsampling"}
    assert (rows.loc[rows["metric"] == "miou", "status"] == "ok").all()
    cost = read_rows(cost_of_run(out, device="cpu", latency=False))
    assert int(cost.query("metric == 'macs' and stage == 'total'")["value"].iloc[0]) > 0
