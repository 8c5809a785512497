"""The suite's cost counter against every baseline cost the papers print.

Counted with ``dsbench flops --model M --method uniform --resolution HxW --json`` (fvcore through
:mod:`benchmark.cost.macs`), models built untrained (encoders are never downloaded).

Conventions, named once:

* Marin et al. 2019 print "flops, 10^9" for the segmentation network on the downsampled image.
  Their numbers are multiply-accumulates (fvcore's "flop", our ``macs``): PSPNet-ResNet50 at
  128x128 is 11.08 and our MAC count 11.14, while FLOPs = 2 x MACs would be 22.3. They count
  the network only: the baseline's bilinear upsampling to the full image is not part of it
  (the "ours" rows add only the auxiliary net), so we compare the ``network`` stage. Inputs are
  square (Marin crops the central square), 19 Cityscapes classes.
* Jin et al. 2022 Table 8 give cost as the fraction of pixels sampled, printed to one or two
  significant digits; compared with the ``fraction_pixels_sampled`` of the same command.
* Suzuki prints no operation counts (only msec/image, a measurement of their GPU), and
  Alcover-Couso and Wang none for the segmentation baselines: nothing to compare.
"""
from __future__ import annotations

import json

import pytest

from benchmark.cli import main

TOLERANCE = 0.05


def flops_json(capsys, model: str, resolution: str, image_size: str, dataset: str = "cityscapes",
               encoder: str = "") -> dict:
    argv = ["flops", "--model", model, "--method", "uniform", "--resolution", resolution,
            "--image-size", image_size, "--dataset", dataset, "--json"]
    if encoder:
        argv += ["--encoder", encoder]
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def network_gmacs(capsys, model: str, encoder: str, side: int) -> float:
    size = f"{side}x{side}"
    cost = flops_json(capsys, model, size, size, encoder=encoder)
    assert cost["unsupported_ops"] == {}
    return cost["stages"]["network"]["macs"] / 1e9


# Marin Table 3 (Cityscapes), baseline rows: downsampled side -> "flops, 10^9".
MARIN_PSPNET_RESNET50 = {64: 4.20, 128: 11.08, 256: 44.05}
MARIN_DEEPLABV3PLUS_XCEPTION65 = {160: 17.23, 192: 24.81, 224: 33.77}


@pytest.mark.slow  # fvcore over a paper-size network: about 8 s
def test_marin_table3_pspnet_resnet50(capsys):
    ours = {side: network_gmacs(capsys, "pspnet", "resnet50", side) for side in MARIN_PSPNET_RESNET50}
    for side in (128, 256):
        assert ours[side] == pytest.approx(MARIN_PSPNET_RESNET50[side], rel=TOLERANCE), side
    # At 64x64 the printed 4.20 is not what the table's own 128 and 256 rows imply: a fully
    # convolutional net costs a*pixels + b (b: the pyramid's pooled branches), and the 128/256
    # rows give a*64^2 + b = 2.84, 2.6x less than 11.08 where every other step is 4x. We match
    # that extrapolation (2.83); the printed 4.20 stays unexplained (an implementation minimum
    # input size would explain it, and the paper gives none).
    slope = (MARIN_PSPNET_RESNET50[256] - MARIN_PSPNET_RESNET50[128]) / (256 ** 2 - 128 ** 2)
    extrapolated = MARIN_PSPNET_RESNET50[128] - slope * (128 ** 2 - 64 ** 2)
    assert ours[64] == pytest.approx(extrapolated, rel=TOLERANCE)
    assert MARIN_PSPNET_RESNET50[64] > 1.4 * extrapolated


@pytest.mark.slow  # fvcore over a paper-size network: about 8 s
def test_marin_table3_deeplabv3plus_xception65(capsys):
    for side, printed in MARIN_DEEPLABV3PLUS_XCEPTION65.items():
        assert network_gmacs(capsys, "deeplabv3plus", "xception65", side) == pytest.approx(printed, rel=TOLERANCE), side


# Marin Tables 2, 4, 5: the U-Net base model, whose widths the paper does not give (Caffe2, "U-Net
# [44]"), so its absolute cost cannot be rebuilt. What the tables do document is that the cost is
# proportional to the number of pixels (x4 per doubling of the side, to the printed digits): the
# suite's U-Net scales the same way. Baseline rows, side -> "flops, 10^9".
MARIN_UNET = {
    "apolloscape_table2": {32: 0.31, 64: 1.24, 128: 4.98, 256: 19.92, 512: 79.68},
    "synthia_table4": {32: 0.31, 64: 1.23, 128: 4.93, 256: 19.74},
    "supervisely_table5": {32: 0.30, 64: 1.22, 128: 4.90, 256: 19.59},
}


def test_marin_unet_tables_scale_with_pixels_as_printed(capsys):
    ours = {side: network_gmacs(capsys, "unet", "resnet18", side) for side in (64, 128, 256)}
    our_ratios = [ours[128] / ours[64], ours[256] / ours[128]]
    for table, printed in MARIN_UNET.items():
        for ratio, (small, large) in zip(our_ratios, [(64, 128), (128, 256)]):
            assert printed[large] / printed[small] == pytest.approx(ratio, rel=TOLERANCE), (table, small, large)


# Jin Table 8: downsampled size -> fraction of the original's pixels, per dataset.
JIN_TABLE8 = {
    ("cityscapes", "1024x2048"): {"16x32": 2e-4, "32x64": 1e-3, "64x128": 3.9e-3, "128x256": 1.6e-2},
    ("deepglobe_landcover", "2448x2448"): {"50x50": 4e-4, "100x100": 1.7e-3, "200x200": 6.7e-3, "300x300": 1.5e-2},
}


@pytest.mark.parametrize("dataset,image_size", list(JIN_TABLE8))
def test_jin_table8_fraction_of_pixels_sampled(capsys, dataset, image_size):
    for resolution, printed in JIN_TABLE8[(dataset, image_size)].items():
        # fcn32 on resnet10t: the fraction does not depend on the network; a small one keeps it quick.
        fraction = flops_json(capsys, "fcn32", resolution, image_size, dataset=dataset,
                              encoder="resnet10t")["fraction_pixels_sampled"]
        if resolution == "16x32":
            # 512 / 2^21 = 2.44e-4, printed to one significant digit as 2e-4.
            assert float(f"{fraction:.0e}") == printed
        else:
            assert fraction == pytest.approx(printed, rel=TOLERANCE), resolution
