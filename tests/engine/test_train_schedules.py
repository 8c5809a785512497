"""The presets' training settings (optimiser, LR policy, weight decay, scale range, encoder
weights): new settings at their defaults leave every existing run's identity unchanged."""
import math

import pytest
import torch

from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import build_optimizer, scheduled_lr
from benchmark.errors import DsbenchError
from benchmark.models import build_model


def ci_like(**kw):
    base = dict(dataset="synthcity", root="data/synthcity", method="uniform", model="unet",
                resolution=(16, 32), encoder="mobilenetv3_small_050", iters=40, batch_size=4, out="/tmp/x/run")
    base.update(kw)
    return RunConfig(**base)


def test_default_run_identity_is_unchanged_by_the_new_settings():
    # Computed before optimizer, momentum, lr_policy and encoder_weights existed.
    cfg = ci_like()
    assert cfg.training_fingerprint() == "72e4b41334d3"
    cfg.describe()
    assert cfg.params == ('{"method":"uniform","options":{"image_mode":"bilinear"},"train":{"batch_size":4,'
                          '"crop":null,"iters":40,"lr":0.001,"scale_range":[0.75,1.25],"weight_decay":0.0001}}')


def test_non_default_settings_enter_params_and_fingerprint():
    cfg = ci_like(optimizer="sgd", lr_policy="cosine", encoder_weights="/some/where/resnet50.pth")
    cfg.describe()
    assert '"optimizer":"sgd"' in cfg.params and '"lr_policy":"cosine"' in cfg.params
    assert '"encoder_weights":"resnet50.pth"' in cfg.params  # by file name, as other files
    assert cfg.training_fingerprint() != "72e4b41334d3"


def test_lr_policies():
    assert scheduled_lr("poly", 0.01, 0, 100) == 0.01
    assert scheduled_lr("poly", 0.01, 50, 100) == pytest.approx(0.01 * 0.5 ** 0.9)
    assert scheduled_lr("cosine", 0.01, 50, 100) == pytest.approx(0.005)
    assert scheduled_lr("cosine", 0.01, 100, 100) == pytest.approx(0.0, abs=1e-12)


def test_optimizers():
    params = [torch.nn.Parameter(torch.zeros(2))]
    sgd = build_optimizer(ci_like(optimizer="sgd", momentum=0.9, weight_decay=1e-4), params)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9
    assert sgd.defaults["weight_decay"] == 1e-4
    assert isinstance(build_optimizer(ci_like(), params), torch.optim.AdamW)


@pytest.mark.parametrize("setting,needle", [({"optimizer": "lamb"}, "optimizer"), ({"lr_policy": "linear"}, "lr_policy"),
                                            ({"momentum": 1.0}, "momentum"), ({"scale_range": (2.0, 0.5)}, "scale_range"),
                                            ({"encoder_weights": "hub"}, "allow-hub-weights")])
def test_bad_settings_are_one_line_errors(setting, needle):
    with pytest.raises(DsbenchError, match=needle):
        ci_like(**setting)


def test_encoder_weights_from_a_local_timm_checkpoint(tmp_path):
    import timm

    source = timm.create_model("resnet10t", pretrained=False)  # a classifier-bearing checkpoint
    path = tmp_path / "resnet10t.pth"
    torch.save(source.state_dict(), path)
    model = build_model("fcn32", 3, encoder="resnet10t", encoder_weights=str(path))
    assert torch.equal(model.encoder.body.conv1[0].weight, source.conv1[0].weight)
    with pytest.raises(DsbenchError, match="allow-hub-weights"):
        build_model("fcn32", 3, encoder="resnet10t", encoder_weights="hub")
    with pytest.raises(DsbenchError, match="not found"):
        build_model("fcn32", 3, encoder="resnet10t", encoder_weights=str(tmp_path / "missing.pth"))
