"""HC backbone and HC models: unchanged feed-forward path, decoding through the clusters, options, cost."""
from __future__ import annotations

import copy

import pytest
import torch

from benchmark.cost import count_macs
from benchmark.errors import DsbenchError
from benchmark.models import build_model
from benchmark.models.blocks import resize_to
from benchmark.ops.cell_association import OWN_CELL, coarse_size
from methods.hierarchical_clustering.backbone import (
    BRANCHES, ModulatedDeformableConv2d, UnsupportedEncoderError, hc_skip_reason,
)
from methods.hierarchical_clustering.clustering import SoftClustering
from methods.hierarchical_clustering.models import cluster_ids

TINY = "resnet10t"  # a timm ResNet with avg-pool projection shortcuts and a deep stem
HC_KEYS = ["hcfcn32", "hcfpn", "hcpspnet", "hcdeeplabv3"]
# the plain model each HC model is built on, with the options that make it the same network at stride 32
BASES = {
    "hcfcn32": ("fcn32", {}),
    "hcfpn": ("fpn", {}),
    "hcpspnet": ("pspnet", {"output_stride": 32}),
    "hcdeeplabv3": ("deeplabv3", {"output_stride": 32, "model_options": {"atrous_rates": [12, 24, 36]}}),
}


def make_pair(key, encoder=TINY, **hc_options):
    """(HC model, its base model) with the base's weights copied into the HC model, both in eval mode."""
    torch.manual_seed(0)
    base_key, base_kwargs = BASES[key]
    base = build_model(base_key, 3, encoder=encoder, **base_kwargs).eval()
    hc = build_model(key, 3, encoder=encoder, model_options=hc_options).eval()
    missing, unexpected = hc.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected
    assert all(name.startswith("encoder.clustering.") for name in missing)
    assert bool(missing) == (hc_options.get("hc_levels", 2) > 0)
    return hc, base


def as_if_trained(model, seed=0):
    """Random BatchNorm scales: timm zero-initialises each block's last BN, so at initialisation
    R(x) = 0, the residual seeds are all zero and every block is its shortcut."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data = torch.rand(module.weight.shape, generator=generator) + 0.5
    return model


def one_hot_own_cell(module, fine, seeds, hard=None):
    assign = fine.new_zeros(fine.shape[0], 9, *fine.shape[-2:])
    assign[:, OWN_CELL] = 1
    return assign


def nearest_cells(x, size):
    """Each fine pixel takes its own 2x2 cell's value (the ceil-size grid's nearest upsampling)."""
    return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[:, :, :size[0], :size[1]]


@pytest.mark.parametrize("key", ["hcfcn32", "hcpspnet", "hcdeeplabv3"])
def test_coarse_logits_equal_the_base_models_with_shared_weights(key):
    hc, base = make_pair(key)
    image = torch.randn(2, 3, 33, 65)
    with torch.no_grad():
        expected = base.decode(base.encoder(image))
        assert torch.equal(hc.coarse_logits(image), expected)
        # ... and the clustering ran alongside it (the path is unchanged, not skipped)
        assert hc(image).shape == (2, 3, 33, 65)


def test_hcfpn_encoder_features_equal_fpns():
    hc, base = make_pair("hcfpn", hc_levels=4)
    image = torch.randn(1, 3, 33, 65)
    with torch.no_grad():
        for ours, theirs in zip(hc.encoder(image), base.encoder(image)):
            assert torch.equal(ours, theirs)
        assert len(hc.encoder.take_assignments()) == 4


@pytest.mark.parametrize("key", HC_KEYS)
def test_level_zero_is_exactly_the_plain_model(key):
    hc, base = make_pair(key, hc_levels=0)
    image = torch.randn(1, 3, 37, 51)
    with torch.no_grad():
        assert torch.equal(hc(image), base(image))


@pytest.mark.parametrize("key", ["hcfcn32", "hcfpn"])
@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_output_has_input_size_for_odd_sizes(key, levels):
    model = build_model(key, 4, encoder=TINY, model_options={"hc_levels": levels}).eval()
    for size in [(33, 65), (37, 51), (16, 32)]:
        with torch.no_grad():
            assert model(torch.randn(1, 3, *size)).shape == (1, 4, *size)
    assert [level.coarse_stride for level in model.encoder.clustered] == [32, 16, 8, 4][:levels]


def test_own_cell_assignment_gives_nearest_upsampling_through_hcfcn32(monkeypatch):
    model = build_model("hcfcn32", 3, encoder=TINY, model_options={"hc_levels": 3}).eval()
    monkeypatch.setattr(SoftClustering, "forward", one_hot_own_cell)
    image = torch.randn(1, 3, 37, 51)
    with torch.no_grad():
        features = model.encoder(image)
        model.encoder.take_assignments()
        logits = model.decode(features)  # stride 32
        for fine in (features[-2], features[-3], features[-4]):  # strides 16, 8, 4
            logits = nearest_cells(logits, fine.shape[-2:])
        expected = resize_to(logits, image.shape[-2:])
        torch.testing.assert_close(model(image), expected, rtol=0, atol=1e-6)


def test_own_cell_assignment_gives_nearest_upsampling_through_hcfpn(monkeypatch):
    hc, base = make_pair("hcfpn", hc_levels=2)
    monkeypatch.setattr(SoftClustering, "forward", one_hot_own_cell)

    def nearest_from_clustered_strides(x, stride, size):
        return nearest_cells(x, size) if stride in (32, 16) else resize_to(x, size)

    monkeypatch.setattr(base, "upsample", nearest_from_clustered_strides)
    image = torch.randn(1, 3, 37, 51)
    with torch.no_grad():
        torch.testing.assert_close(hc(image), base(image), rtol=0, atol=1e-5)


def test_clustering_changes_the_upsampling():
    hc, base = make_pair("hcfcn32")
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (hc(image) - base(image)).abs().max() > 1e-4


def test_every_branch_runs_and_gives_different_assignments():
    image = torch.randn(1, 3, 48, 64)
    found = {}
    for branch in BRANCHES:
        torch.manual_seed(0)  # the same weights for every branch: only the seeds differ
        model = build_model("hcfcn32", 2, encoder=TINY, model_options={"hc_branch": branch, "hc_levels": 4})
        as_if_trained(model).eval()
        model.save_assignment = True
        with torch.no_grad():
            model(image)
        found[branch] = model.last_assignment()
        assert found[branch].shape == (1, 9, 24, 32)
    for a, b in [("identity", "residual"), ("identity", "block"), ("residual", "block")]:
        assert not torch.allclose(found[a], found[b], atol=1e-4), (a, b)


def test_identity_branch_of_a_plain_shortcut_block_uses_the_pooled_input():
    # resnet18's layer1[0] has no projection: at level 4 the seeds are the max-pool's output
    model = build_model("hcfcn32", 2, encoder="resnet18", model_options={"hc_branch": "identity", "hc_levels": 4})
    assert model.encoder.body.layer1[0].downsample is None
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 33, 65)).shape == (1, 2, 33, 65)


@pytest.mark.parametrize("branch", BRANCHES)
def test_gradients_reach_every_projection(branch):
    model = build_model("hcfpn", 2, encoder=TINY, model_options={"hc_branch": branch, "hc_levels": 4})
    as_if_trained(model).train()
    model(torch.randn(2, 3, 33, 65)).square().mean().backward()
    for stage, module in model.encoder.clustering.items():
        for projection in (module.project_fine, module.project_seeds):
            assert projection.weight.grad is not None and projection.weight.grad.abs().sum() > 0, stage


def test_soft_assignments_in_training_hard_in_eval_with_cluster_ids():
    model = build_model("hcpspnet", 2, encoder=TINY, model_options={"hard": True})
    model.save_assignment = True
    image = torch.randn(2, 3, 33, 65)
    model.train()(image)
    soft = model.last_assignment()
    assert ((soft > 0) & (soft < 1)).any()
    with torch.no_grad():
        model.eval()(image)
    hard = model.last_assignment()
    assert set(hard.unique().tolist()) <= {0.0, 1.0} and torch.equal(hard.sum(1), torch.ones_like(hard[:, 0]))
    ids = model.last_assignment(as_cluster_ids=True)
    fine_hw = tuple(hard.shape[-2:])  # the finest clustered level's pixels (stride 8)
    h, w = coarse_size(fine_hw, 2)
    assert ids.shape == (2, *fine_hw) and ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) < h * w
    # the id of the chosen candidate: own cell when candidate 4 wins
    own = hard[:, OWN_CELL] == 1
    rows = torch.arange(fine_hw[0])[:, None] // 2
    cols = torch.arange(fine_hw[1])[None, :] // 2
    assert torch.equal(ids[own], (rows * w + cols).expand_as(ids)[own])


def test_cluster_ids_follow_the_candidate_order():
    assign = torch.zeros(1, 9, 4, 4)
    assign[:, 8] = 1  # every pixel picks (+1, +1)
    ids = cluster_ids(assign)
    # pixel (0, 0) -> cell (1, 1) = 1 * 2 + 1; pixels in the last cells have no (+1, +1): they fall
    # back to the lowest valid candidate (all scores 0 there)
    assert ids[0, 0, 0] == 3
    assert ids[0, 3, 3] == 0  # own cell (1, 1); first valid candidate (-1, -1) -> cell (0, 0)


def test_last_assignment_needs_saving():
    model = build_model("hcfcn32", 2, encoder=TINY).eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(DsbenchError, match="save_assignment"):
        model.last_assignment()


def test_deformable_downsampling_starts_as_the_strided_convolution_and_learns():
    plain, _ = make_pair("hcfcn32")
    as_if_trained(plain)  # else the zero-initialised last BN hides the strided conv's output
    deformable = build_model("hcfcn32", 3, encoder=TINY, model_options={"dcn": True}).eval()
    missing, unexpected = deformable.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(".offset_mask." in name for name in missing)
    replaced = [m for m in deformable.encoder.modules() if isinstance(m, ModulatedDeformableConv2d)]
    assert len(replaced) == 2 and all(m.stride == (2, 2) for m in replaced)
    image = torch.randn(1, 3, 33, 65)
    with torch.no_grad():
        torch.testing.assert_close(deformable(image), plain(image), rtol=1e-4, atol=1e-4)
    deformable.train()(torch.randn(2, 3, 33, 65)).square().mean().backward()
    assert all(m.offset_mask.weight.grad.abs().sum() > 0 for m in replaced)


def test_deepcopy_records_on_the_copy():
    model = build_model("hcfcn32", 2, encoder=TINY).eval()
    clone = copy.deepcopy(model)
    clone.save_assignment = True
    image = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        assert torch.equal(clone(image), model(image))
    assert clone.last_assignment().shape == (1, 9, 4, 8)  # stride-8 pixels: the finer of the 2 levels' inputs


def test_unsupported_encoders_raise_with_a_skip_reason():
    with pytest.raises(UnsupportedEncoderError) as info:
        build_model("hcfcn32", 2, encoder="mobilenetv3_small_050")
    assert info.value.skip_reason and isinstance(info.value, DsbenchError)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(UnsupportedEncoderError, match="layer4 does not downsample"):
        build_model("hcpspnet", 2, encoder=TINY, output_stride=8)
    assert hc_skip_reason(TINY) is None
    assert "layer4 does not downsample" in hc_skip_reason(TINY, levels=2, output_stride=16)


@pytest.mark.parametrize("options,match", [({"hc_levels": 5}, "hc_levels"), ({"hc_branch": "shortcut"}, "hc_branch"),
                                            ({"tau": 0.0}, "tau")])
def test_bad_options_raise_dsbench_error(options, match):
    with pytest.raises(DsbenchError, match=match):
        build_model("hcfcn32", 2, encoder=TINY, model_options=options)


@pytest.mark.parametrize("key,options", [(k, {}) for k in HC_KEYS + ["atrous_fcn", "deeplabv3"]]
                         + [("hcfpn", {"hc_levels": 4, "dcn": True, "hard": True}),
                            ("hcfcn32", {"hc_levels": 3, "hc_branch": "residual"})])
def test_macs_count_every_op_including_clustering(key, options):
    model = build_model(key, 3, encoder=TINY, model_options=options).eval()
    count = count_macs(model, torch.randn(1, 3, 64, 128))
    assert count.unsupported == {}
    if key.startswith("hc"):
        # similarities (vecdot), their normalisation and the decoding multiply-accumulates
        assert count.by_op["linalg_vecdot"] > 0 and count.by_op["linalg_vector_norm"] > 0 and count.by_op["addcmul"] > 0
        if options.get("dcn"):
            assert count.by_op["deform_conv2d"] > 0
        if not options.get("hard"):
            assert count.by_op["softmax"] > 0


def test_similarity_and_decoding_macs_are_one_per_candidate_term():
    from benchmark.ops.cell_association import candidate_inner_products, decode

    fine, seeds = torch.randn(1, 8, 6, 10), torch.randn(1, 8, 3, 5)
    similarities = count_macs(lambda f, s: candidate_inner_products(f, s, 2), (fine, seeds))
    assert similarities.unsupported == {} and similarities.by_op["linalg_vecdot"] == 9 * 8 * 6 * 10
    decoded = count_macs(lambda c, a: decode(c, a, 2), (seeds, torch.rand(1, 9, 6, 10)))
    assert decoded.unsupported == {}
    # one multiply(-add) per term: the first candidate multiplies, the other 8 accumulate
    assert decoded.by_op["addcmul"] == 8 * 8 * 6 * 10 and decoded.by_op["mul"] >= 8 * 6 * 10


def test_last_clusters_follow_every_level_to_the_coarsest_seed():
    model = build_model("hcfcn32", 2, encoder=TINY, model_options={"hc_levels": 2, "hard": True}).eval()
    model.save_assignment = True
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 128))
    finest = model.last_assignment(as_cluster_ids=True)  # (1, 8, 16): stride-8 cells -> stride-16 seeds
    clusters = model.last_clusters()
    assert clusters.shape == finest.shape and clusters.dtype == torch.int64
    # the composition by hand: a stride-8 cell's seed is a stride-16 cell; that cell's own seed is the cluster
    coarsest = cluster_ids(model._last_assignments[0])  # (1, 4, 8): stride-16 cells -> stride-32 seeds
    expected = coarsest.flatten(1)[0, finest.flatten(1)[0]].view_as(finest)
    assert torch.equal(clusters, expected)
    assert int(clusters.max()) < 2 * 4  # at most HW / 32^2 clusters


def test_evaluation_rows_store_the_edges_of_one_images_clusters_and_labels():
    from benchmark.engine.pipeline import SegmentationPipeline
    from methods.hierarchical_clustering.method import CLUSTER_METRIC, LABEL_METRIC, HierarchicalClustering

    method = HierarchicalClustering()
    pipeline = SegmentationPipeline(method, build_model("hcfcn32", 3, encoder=TINY), (64, 128), 3).eval()
    labels = torch.zeros(64, 128, dtype=torch.int64)
    labels[:, 64:] = 2  # one vertical label edge, right of cell column 7 of the 8x16 stride-8 grid
    dataset = [{"image": torch.rand(3, 64, 128), "labels": labels}]
    identity = {"run_id": "r", "dataset": "synthcity", "split": "val", "method": "hc", "model": "fcn32",
                "height": 64, "width": 128, "seed": 0}
    rows = method.evaluation_rows(pipeline, dataset, identity, {})
    assert {r["stage"] for r in rows} <= {"cells=8x16,right", "cells=8x16,down"}
    label_edges = [(r["stage"], r["value"]) for r in rows if r["metric"] == LABEL_METRIC]
    assert label_edges == [("cells=8x16,right", r * 16 + 7) for r in range(8)]
    keys = [(r["metric"], r["stage"], r["size_bin"]) for r in rows]
    assert len(set(keys)) == len(keys)  # aggregate refuses repeated row keys
    pipeline.model.save_assignment = True
    with torch.inference_mode():
        pipeline.predict(dataset[0]["image"].unsqueeze(0))
    clusters = pipeline.model.last_clusters()[0]
    right = int((clusters[:, :-1] != clusters[:, 1:]).sum())
    down = int((clusters[:-1] != clusters[1:]).sum())
    cluster_rows = [r for r in rows if r["metric"] == CLUSTER_METRIC]
    assert [r["stage"] for r in cluster_rows].count("cells=8x16,right") == right and len(cluster_rows) == right + down
    pipeline.model.save_assignment = False
    plain = SegmentationPipeline(HierarchicalClustering(levels=0),
                                 build_model("hcfcn32", 3, encoder=TINY, model_options={"hc_levels": 0}), (64, 128), 3)
    assert plain.method.evaluation_rows(plain, dataset, identity, {}) == []


def test_evaluation_rows_subsample_fine_grids_to_at_most_the_cap():
    from benchmark.engine.pipeline import SegmentationPipeline
    from methods.hierarchical_clustering.method import HierarchicalClustering, MAX_CLUSTER_CELLS

    torch.manual_seed(0)  # random features: some cluster edges to read the grid size from
    method = HierarchicalClustering(levels=4)  # finest clustered grid: stride 2, 128x256 cells at 256x512
    model = build_model("hcfcn32", 3, encoder=TINY, model_options={"hc_levels": 4})
    pipeline = SegmentationPipeline(method, model, (256, 512), 3).eval()
    dataset = [{"image": torch.rand(3, 256, 512), "labels": torch.zeros(256, 512, dtype=torch.int64)}]
    rows = method.evaluation_rows(pipeline, dataset, {"run_id": "r"}, {})
    (grid,) = {r["stage"].split(",")[0] for r in rows}
    h, w = (int(v) for v in grid.split("=")[1].split("x"))
    assert h * w <= MAX_CLUSTER_CELLS and (h, w) == (32, 64)
