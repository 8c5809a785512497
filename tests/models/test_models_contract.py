"""Every registered model: shapes at tiny and odd sizes, backward, output stride, weights, errors."""
from __future__ import annotations

import pytest
import torch

import methods  # noqa: F401  (registers every model, the HC models of methods.hierarchical_clustering too)
from benchmark.errors import DsbenchError
from benchmark.models import DEFAULT_ENCODER, MODELS, build_model

KEYS = MODELS.keys()
TINY_ENCODER = "resnet10t"  # same ResNet layout as the default, a third of its cost


def test_every_papers_model_is_registered():
    assert set(KEYS) >= {"unet", "fcn32", "atrous_fcn", "fpn", "pspnet", "deeplabv3", "deeplabv3plus",
                         "hcfcn32", "hcfpn", "hcpspnet", "hcdeeplabv3"}


@pytest.mark.parametrize("key", KEYS)
def test_output_has_input_size_and_backward_reaches_every_parameter(key):
    torch.manual_seed(0)
    # HRNetV2 reads an HRNet's branches: its smallest timm HRNet instead of the ResNet.
    model = build_model(key, 2, encoder="hrnet_w18_small" if key == "hrnetv2" else TINY_ENCODER)
    for size in [(16, 32), (33, 65)]:  # the smallest supported size, and odd sizes
        model.train()
        model.zero_grad()
        # Batch 2: a stride-32 feature of a 16x32 image is 1x1, and the encoder's BatchNorm
        # needs more than one value per channel in training.
        logits = model(torch.randn(2, 3, *size))
        assert logits.shape == (2, 2, *size)
        logits.square().mean().backward()
        without_grad = [n for n, p in model.named_parameters() if p.grad is None]
        assert not without_grad, f"{key}: no gradient for {without_grad[:3]}"
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        model.eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, *size)).shape == (1, 2, *size)


@pytest.mark.parametrize("key", ["pspnet", "deeplabv3plus"])
def test_pooling_branches_train_with_batch_one(key):
    # At 16x32 and output stride 8 the pooled 1x1 maps hold one value per channel: BatchNorm
    # there would raise in training mode.
    model = build_model(key, 2, encoder=TINY_ENCODER).train()
    model(torch.randn(1, 3, 16, 32)).sum().backward()


def test_other_timm_encoder_works():
    model = build_model("deeplabv3plus", 2, encoder="mobilenetv3_small_050").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 33, 65)).shape == (1, 2, 33, 65)


@pytest.mark.parametrize("key,expected", [("unet", 32), ("fcn32", 32), ("atrous_fcn", 8), ("fpn", 32), ("pspnet", 8),
                                          ("deeplabv3", 8), ("deeplabv3plus", 8), ("hcfcn32", 32), ("hcfpn", 32),
                                          ("hcpspnet", 32), ("hcdeeplabv3", 32)])
def test_default_output_stride_follows_the_papers(key, expected):
    model = build_model(key, 2, encoder=TINY_ENCODER)
    assert model.output_stride == expected
    assert model.encoder.body(torch.randn(1, 3, 64, 64))[-1].shape[-2:] == (64 // expected, 64 // expected)


@pytest.mark.parametrize("key", ["pspnet", "fcn32"])
def test_output_stride_option_changes_dilation_and_feature_size(key):
    image = torch.randn(1, 3, 64, 128)
    os8 = build_model(key, 2, encoder=TINY_ENCODER, output_stride=8).eval()
    os16 = build_model(key, 2, encoder=TINY_ENCODER, output_stride=16).eval()
    with torch.no_grad():
        assert os8.encoder(image)[-1].shape[-2:] == (8, 16)
        assert os16.encoder(image)[-1].shape[-2:] == (4, 8)
        assert os8(image).shape == os16(image).shape == (1, 2, 64, 128)
    dilations = lambda m: {c.dilation for c in m.encoder.modules() if isinstance(c, torch.nn.Conv2d)}
    assert (4, 4) in dilations(os8) and (4, 4) not in dilations(os16) and (2, 2) in dilations(os16)


def _aspp_rates(model):
    return sorted({m.dilation[0] for m in model.aspp.modules() if isinstance(m, torch.nn.Conv2d)} - {1})


def test_deeplab_atrous_rates_scale_with_output_stride():
    assert _aspp_rates(build_model("deeplabv3plus", 2, encoder=TINY_ENCODER)) == [12, 24, 36]
    assert _aspp_rates(build_model("deeplabv3plus", 2, encoder=TINY_ENCODER, output_stride=16)) == [6, 12, 18]
    assert _aspp_rates(build_model("deeplabv3", 2, encoder=TINY_ENCODER, output_stride=16)) == [6, 12, 18]


def test_deeplabv3_uses_plain_atrous_convolutions_and_hc_variant_keeps_stride8_rates():
    v3 = build_model("deeplabv3", 2, encoder=TINY_ENCODER)
    depthwise = [m for m in v3.aspp.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert not depthwise and _aspp_rates(v3) == [12, 24, 36]
    # Suzuki keeps the original hyper-parameters on the stride-32 backbone
    assert _aspp_rates(build_model("hcdeeplabv3", 2, encoder=TINY_ENCODER)) == [12, 24, 36]


def test_model_options_reach_the_architecture_and_unknown_ones_are_refused():
    model = build_model("pspnet", 2, encoder=TINY_ENCODER, model_options={"bottleneck_channels": 32})
    assert model.classifier.in_channels == 32
    assert build_model("hcfcn32", 2, encoder=TINY_ENCODER, model_options={"hc_levels": 3}).encoder.levels == 3
    with pytest.raises(DsbenchError, match=r"no option 'bottleneck'.*bottleneck_channels"):
        build_model("pspnet", 2, encoder=TINY_ENCODER, model_options={"bottleneck": 32})


def test_atrous_fcn_is_fcn32_at_output_stride_8():
    torch.manual_seed(0)
    atrous = build_model("atrous_fcn", 2, encoder=TINY_ENCODER).eval()
    fcn8 = build_model("fcn32", 2, encoder=TINY_ENCODER, output_stride=8).eval()
    fcn8.load_state_dict(atrous.state_dict())
    image = torch.randn(1, 3, 33, 65)
    with torch.no_grad():
        assert torch.equal(atrous(image), fcn8(image))


@pytest.mark.parametrize("wrap", ["raw", "model", "module_prefix"])
def test_weights_round_trip_gives_identical_outputs(tmp_path, wrap):
    torch.manual_seed(1)
    source = build_model("fpn", 3, encoder=TINY_ENCODER).eval()
    state = source.state_dict()
    if wrap == "model":
        state = {"model": state, "epoch": torch.tensor(3)}
    elif wrap == "module_prefix":
        state = {f"module.{k}": v for k, v in state.items()}
    path = tmp_path / "fpn.pt"
    torch.save(state, path)
    torch.manual_seed(2)  # a different random initialisation, overwritten by the checkpoint
    loaded = build_model("fpn", 3, encoder=TINY_ENCODER, weights=str(path)).eval()
    image = torch.randn(2, 3, 33, 65)
    with torch.no_grad():
        assert torch.equal(source(image), loaded(image))


def test_corrupt_weights_file_raises_naming_it(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(DsbenchError, match="broken.pt"):
        build_model("fcn32", 2, encoder=TINY_ENCODER, weights=str(path))


def test_mismatched_weights_raise_naming_file_and_fix(tmp_path):
    path = tmp_path / "nineteen_classes.pt"
    torch.save(build_model("fcn32", 19, encoder=TINY_ENCODER).state_dict(), path)
    with pytest.raises(DsbenchError, match=r"nineteen_classes.pt.*mis-shaped.*num_classes"):
        build_model("fcn32", 2, encoder=TINY_ENCODER, weights=str(path))
    with pytest.raises(DsbenchError, match=r"nineteen_classes.pt.*missing"):
        build_model("unet", 19, encoder=TINY_ENCODER, weights=str(path))


def test_missing_weights_file_raises(tmp_path):
    with pytest.raises(DsbenchError, match="absent.pt"):
        build_model("fcn32", 2, encoder=TINY_ENCODER, weights=str(tmp_path / "absent.pt"))


def test_hub_weights_are_refused():
    ask_for_hub_weights = {"pretrained": True}
    with pytest.raises(DsbenchError, match="weights=PATH"):
        MODELS.create("unet", 2, encoder=TINY_ENCODER, **ask_for_hub_weights)


@pytest.mark.parametrize("kwargs,match", [
    ({"encoder": "resnet181"}, "resnet18"),           # close match suggested
    ({"output_stride": 4}, "output_stride"),
    ({"num_classes": 0}, "num_classes"),
])
def test_bad_arguments_raise_dsbench_error(kwargs, match):
    arguments = {"num_classes": 2, "encoder": TINY_ENCODER, **kwargs}
    with pytest.raises(DsbenchError, match=match):
        MODELS.create("fcn32", **arguments)


def test_unknown_model_key_suggests_close_match():
    with pytest.raises(DsbenchError, match="unet"):
        build_model("unett", 2)


def test_default_encoder_and_determinism():
    torch.manual_seed(0)
    a = build_model("fcn32", 2)
    torch.manual_seed(0)
    b = build_model("fcn32", 2)
    assert a.encoder_name == DEFAULT_ENCODER
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
