"""The training loss's per-class weights (RunConfig.class_weights): computed from the train split's
labels, applied the same way by every method's loss (cross-entropy, soft-label KL, focal), and
absent from a run's identity when off."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.engine.run_config import RunConfig
from benchmark.engine.train import loss_class_weights
from benchmark.errors import DsbenchError
from methods.deformation.method import focal_loss
from methods.soft_labels.loss import kl_soft_loss
from methods.uniform import Uniform


def samples_of(*label_maps):
    return [{"labels": torch.as_tensor(np.asarray(m), dtype=torch.int64)} for m in label_maps]


def test_inverse_sqrt_frequency_against_a_brute_force_count():
    rng = np.random.default_rng(0)
    maps = [rng.choice([0, 1, 1, 1, 3, 255], size=(5, 7)) for _ in range(3)]
    weights = loss_class_weights("inverse_sqrt_frequency", samples_of(*maps), num_classes=5).double()
    pixels = [v for m in maps for v in m.ravel().tolist() if v != 255]
    frequency = np.array([pixels.count(k) / len(pixels) for k in range(5)])
    expected = np.array([f ** -0.5 if f > 0 else 0.0 for f in frequency])
    expected /= (frequency * expected).sum()
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
    assert weights[2] == 0 and weights[4] == 0                         # absent classes: never a target
    assert float((torch.as_tensor(frequency) * weights).sum()) == pytest.approx(1.0)  # pixel-weighted mean 1
    assert weights[1] == min(weights[k] for k in (0, 1, 3)) > 0    # the commonest class: the lightest


def test_none_is_no_weights_and_an_unlabelled_split_is_an_error():
    assert loss_class_weights("none", samples_of([[0, 1]]), 2) is None
    with pytest.raises(DsbenchError, match="no labelled pixel.*class_weights: none"):
        loss_class_weights("inverse_sqrt_frequency", samples_of([[255, 255]]), 2)


def test_every_loss_weighs_classes_as_weighted_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3, 5)
    labels = torch.randint(0, 4, (2, 3, 5))
    labels[0, 0, :2] = 255
    weights = torch.tensor([0.5, 2.0, 1.0, 4.0])
    reference = F.cross_entropy(logits, labels, weight=weights, ignore_index=255)
    assert not torch.isclose(reference, F.cross_entropy(logits, labels, ignore_index=255))
    # uniform's loss (the base class: edge-based, deformation's segmentation term, Suzuki's runs)
    method = Uniform()
    method.loss_class_weights = weights
    torch.testing.assert_close(method.loss(logits, labels, {}), reference)
    # soft-label KL on one-hot soft labels (ignored pixels carry no mass) is the same number
    one_hot = F.one_hot(labels.clamp(max=3), 4).permute(0, 3, 1, 2).float() * (labels != 255).unsqueeze(1)
    torch.testing.assert_close(kl_soft_loss(logits, one_hot, class_weights=weights), reference)
    torch.testing.assert_close(kl_soft_loss(logits, labels, class_weights=weights), reference)
    # focal loss at gamma 0 is cross-entropy, weighted the same way
    torch.testing.assert_close(focal_loss(logits, labels, gamma=0.0, class_weights=weights), reference)


def test_soft_kl_weighs_a_mixed_pixel_by_its_expected_class_weight():
    logits = torch.zeros(1, 2, 1, 2)
    soft = torch.tensor([[[[0.5, 1.0]], [[0.5, 0.0]]]])  # pixel 0 half and half, pixel 1 class 0
    weights = torch.tensor([1.0, 3.0])
    log_p = F.log_softmax(logits, 1)
    kl = (torch.xlogy(soft, soft) - soft * log_p).sum(1).flatten()
    pixel_weights = torch.tensor([0.5 * 1 + 0.5 * 3, 1.0])
    expected = (pixel_weights * kl).sum() / pixel_weights.sum()
    torch.testing.assert_close(kl_soft_loss(logits, soft, class_weights=weights), expected)


def test_the_setting_enters_the_run_identity_only_when_on():
    base = dict(dataset="synthcity", root="data/synthcity", method="uniform", model="unet", resolution=(16, 32),
                encoder="mobilenetv3_small_050", iters=40, batch_size=4, out="/tmp/x/run")
    off, on = RunConfig(**base), RunConfig(**base, class_weights="inverse_sqrt_frequency")
    assert off.training_fingerprint() == "72e4b41334d3"  # as before the setting existed
    on.describe()
    assert '"class_weights":"inverse_sqrt_frequency"' in on.params
    assert on.training_fingerprint() != off.training_fingerprint()
    with pytest.raises(DsbenchError, match="class_weights='median'.*inverse_sqrt_frequency"):
        RunConfig(**base, class_weights="median")
