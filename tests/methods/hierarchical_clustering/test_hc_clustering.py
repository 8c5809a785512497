"""Suzuki's soft clustering module and hierarchical decoding (methods/hierarchical_clustering)."""
import math

import pytest
import torch
import torch.nn.functional as F

from benchmark.errors import DsbenchError
from benchmark.ops.cell_association import (
    OWN_CELL, candidate_offsets, candidate_validity, coarse_size, decode, hard_assignment,
)
from methods.hierarchical_clustering.clustering import SoftClustering, decode_hierarchy

F64 = torch.float64


def make_module(seed=0, **options):
    torch.manual_seed(seed)
    return SoftClustering(fine_channels=3, coarse_channels=5, **options).double()


def inputs(fine_hw=(7, 9), batch=2, seed=1):
    gen = torch.Generator().manual_seed(seed)
    h, w = coarse_size(fine_hw, 2)
    fine = torch.randn(batch, 3, *fine_hw, generator=gen, dtype=F64)
    seeds = torch.randn(batch, 5, h, w, generator=gen, dtype=F64)
    return fine, seeds


def reference_assignment(module, fine, seeds, tau):
    """Eq. 4 with loops: cosine of the projections, softmax over the seeds inside the grid."""
    Wf = module.project_fine.weight[:, :, 0, 0]  # (K, Cf)
    Ws = module.project_seeds.weight[:, :, 0, 0]  # (K, Cc)
    B, _, H, W = fine.shape
    h, w = seeds.shape[-2:]
    out = torch.zeros(B, 9, H, W, dtype=F64)
    for b in range(B):
        for i in range(H):
            for j in range(W):
                x = Wf @ fine[b, :, i, j]
                sims = {}
                for k, (dy, dx) in enumerate(candidate_offsets()):
                    m, n = i // 2 + dy, j // 2 + dx
                    if 0 <= m < h and 0 <= n < w:
                        sims[k] = F.cosine_similarity(x, Ws @ seeds[b, :, m, n], dim=0)
                total = sum(math.exp(s.item() / tau) for s in sims.values())
                for k, s in sims.items():
                    out[b, k, i, j] = math.exp(s.item() / tau) / total
    return out


def test_defaults_are_the_papers():
    module = SoftClustering(8, 16)
    assert module.project_fine.out_channels == 64 and module.project_seeds.out_channels == 64
    assert module.project_fine.bias is None and module.project_seeds.bias is None
    assert module.tau == 0.07 and not module.learnable_tau
    assert sum(p.numel() for p in module.parameters()) == 64 * 8 + 64 * 16


@pytest.mark.parametrize("fine_hw", [(7, 9), (6, 8)])
def test_soft_assignment_matches_eq4_with_cosine_similarity(fine_hw):
    module = make_module(tau=0.3)
    fine, seeds = inputs(fine_hw)
    assign = module(fine, seeds)
    assert assign.shape == (2, 9, *fine_hw)
    assert torch.allclose(assign, reference_assignment(module, fine, seeds, 0.3), atol=1e-10)


def test_weights_sum_to_one_and_missing_seeds_get_none():
    module = make_module()
    fine, seeds = inputs((7, 9))
    assign = module(fine, seeds)
    valid = candidate_validity((7, 9), seeds.shape[-2:], 2)
    assert torch.allclose(assign.sum(dim=1), torch.ones(2, 7, 9, dtype=F64), atol=1e-12)
    assert torch.equal(assign[:, ~valid], torch.zeros_like(assign[:, ~valid]))
    assert sorted(assign[0, :, 0, 0].nonzero().flatten().tolist()) == [4, 5, 7, 8]
    assert sorted(assign[0, :, 6, 8].nonzero().flatten().tolist()) == [0, 1, 3, 4]


def test_cosine_similarity_ignores_feature_scale():
    module = make_module()
    fine, seeds = inputs()
    assert torch.allclose(module(fine, seeds), module(3.0 * fine, 0.25 * seeds), atol=1e-12)


def test_hard_at_evaluation_is_the_argmax_and_training_stays_soft():
    module = make_module(hard=True)
    fine, seeds = inputs()
    soft = module(fine, seeds)  # a fresh module is in training mode
    assert not torch.equal(soft, hard_assignment(soft))
    module.eval()
    hard = module(fine, seeds)
    assert torch.equal(hard, hard_assignment(soft))
    assert torch.equal(hard.sum(dim=1), torch.ones(2, 7, 9, dtype=F64))
    assert torch.equal(module(fine, seeds, hard=False), soft)  # the call-time override wins


def test_tiny_tau_approaches_the_hard_assignment():
    module = make_module(tau=1e-4)
    fine, seeds = inputs()
    soft = module(fine, seeds)
    hard = module(fine, seeds, hard=True)
    scores = module.similarities(fine, seeds).masked_fill(~candidate_validity((7, 9), (4, 5), 2), -2.0)
    top2 = scores.topk(2, dim=1).values
    unique = (top2[:, 0] - top2[:, 1]) > 5e-3
    assert unique.float().mean() > 0.9
    assert torch.allclose(soft.permute(0, 2, 3, 1)[unique], hard.permute(0, 2, 3, 1)[unique], atol=1e-12)


def test_learnable_tau_trains_and_its_penalty_is_l1():
    module = make_module(learnable_tau=True, tau=0.07)
    assert isinstance(module.log_tau, torch.nn.Parameter)
    assert torch.allclose(module.tau, torch.tensor(0.07, dtype=F64))
    fine, seeds = inputs()
    pred = torch.randn(2, 4, *seeds.shape[-2:], dtype=F64)
    decode(pred, module(fine, seeds), 2).pow(2).sum().backward()
    assert module.log_tau.grad is not None and module.log_tau.grad.abs() > 0
    module.zero_grad()
    penalty = module.tau_penalty()
    assert torch.allclose(penalty, torch.tensor(0.07, dtype=F64))
    penalty.backward()
    # d|tau| / d log tau = tau: the penalty lowers the temperature
    assert torch.allclose(module.log_tau.grad, torch.tensor(0.07, dtype=F64))


def test_fixed_tau_has_no_parameter_and_a_zero_penalty():
    module = make_module()
    assert not any("tau" in name for name, _ in module.named_parameters())
    assert module.tau_penalty().item() == 0.0


def test_non_positive_tau_and_wrong_seed_grid_are_user_errors():
    with pytest.raises(DsbenchError, match="tau"):
        SoftClustering(3, 5, tau=0.0)
    fine, _ = inputs((7, 9))
    with pytest.raises(DsbenchError, match="ceil"):
        make_module()(fine, torch.randn(2, 5, 3, 4, dtype=F64))  # floor-mode pooling: 3x4, not 4x5


def test_gradcheck_soft_clustering_then_decode():
    module = make_module(embed_dim=4, tau=0.5)
    fine, seeds = inputs((5, 7), batch=1)
    pred = torch.randn(1, 2, *seeds.shape[-2:], dtype=F64)
    args = tuple(t.clone().requires_grad_(True) for t in (fine, seeds, pred))
    assert torch.autograd.gradcheck(lambda x, s, y: decode(y, module(x, s), 2), args)


def one_hot_own_cell(fine_hw, batch=1):
    assign = torch.zeros(batch, 9, *fine_hw, dtype=F64)
    assign[:, OWN_CELL] = 1.0
    return assign


def test_decode_hierarchy_goes_coarsest_first_then_bilinear():
    gen = torch.Generator().manual_seed(3)
    pred = torch.randn(2, 4, 2, 3, generator=gen, dtype=F64)
    levels = [torch.rand(2, 9, 3, 5, generator=gen, dtype=F64), torch.rand(2, 9, 6, 9, generator=gen, dtype=F64)]
    expected = decode(decode(pred, levels[0], 2), levels[1], 2)
    assert torch.equal(decode_hierarchy(pred, levels), expected)
    out = decode_hierarchy(pred, levels, output_hw=(24, 36))
    assert torch.allclose(out, F.interpolate(expected, size=(24, 36), mode="bilinear", align_corners=True))
    assert torch.equal(decode_hierarchy(pred, levels, output_hw=(6, 9)), expected)  # no resampling at size
    with pytest.raises(ValueError, match="coarsest first"):
        decode_hierarchy(pred, levels[::-1])


def test_own_cell_hierarchy_is_nearest_upsampling_and_no_levels_is_bilinear():
    pred = torch.randn(1, 3, 4, 5, dtype=F64)
    levels = [one_hot_own_cell((8, 10)), one_hot_own_cell((15, 19))]  # the finest level is odd
    full = F.interpolate(pred, scale_factor=4, mode="nearest")
    assert torch.equal(decode_hierarchy(pred, levels), full[:, :, :15, :19])
    assert torch.allclose(
        decode_hierarchy(pred, [], output_hw=(16, 20)),
        F.interpolate(pred, size=(16, 20), mode="bilinear", align_corners=True),
    )


def test_clustering_modules_chain_into_a_hierarchy():
    # two stride-2 levels of a toy backbone: 13x11 -> 7x6 -> 4x3, odd sizes throughout
    torch.manual_seed(0)
    conv1 = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1).double()
    conv2 = torch.nn.Conv2d(6, 8, 3, stride=2, padding=1).double()
    cluster1, cluster2 = SoftClustering(3, 6).double(), SoftClustering(6, 8).double()
    image = torch.randn(1, 3, 13, 11, dtype=F64)
    x1 = conv1(image)
    x2 = conv2(x1)
    assign1, assign2 = cluster1(image, x1), cluster2(x1, x2)
    logits = torch.randn(1, 19, *x2.shape[-2:], dtype=F64)
    out = decode_hierarchy(logits, [assign2, assign1], output_hw=(13, 11))
    assert out.shape == (1, 19, 13, 11)
    out.sum().backward()
    assert cluster1.project_fine.weight.grad.abs().sum() > 0
    assert cluster2.project_seeds.weight.grad.abs().sum() > 0
