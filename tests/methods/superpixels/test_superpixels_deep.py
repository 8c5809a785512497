"""Deep superpixel members: SSN, HCSSN, SCN, PCNet and their shared pieces (tiny inputs, CPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.errors import DsbenchError
from benchmark.ops.cell_association import candidate_offsets, candidate_validity, hard_assignment
from methods.superpixels.connectivity import label_components
from methods.superpixels.deep_common import (
    boundary_mask, grid_cell_size, pad_to_multiple, rgb_to_lab, superpixel_ids, write_superpixel_ids_band,
)
from methods.superpixels.hcssn import HCSSN
from methods.superpixels.pcnet import (
    PCNet, boundary_masked_l1, crop_boundary_patch, dilated_boundaries, dynamic_guiding_mask,
    local_discrimination_loss,
)
from methods.superpixels.scn import SCN
from methods.superpixels.ssn import SSN, differentiable_slic, initial_seeds, slic_iteration

H, W = 32, 48


def rectangles_scene(height: int = H, width: int = W, seed: int = 0):
    """A few flat-coloured rectangles with a little noise: image (1, 3, H, W), labels (1, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.zeros(1, height, width, dtype=torch.long)
    labels[0, 4:20, 6:26] = 1
    labels[0, 14:30, 30:46] = 2
    labels[0, 22:, :14] = 3
    # low-contrast colours: plain colour clustering cannot already reconstruct the labels perfectly
    colours = torch.tensor([[0.50, 0.50, 0.50], [0.56, 0.50, 0.48], [0.46, 0.50, 0.56], [0.50, 0.56, 0.46]])
    image = colours[labels[0]].permute(2, 0, 1).unsqueeze(0)
    image = (image + 0.02 * torch.randn(image.shape, generator=gen)).clamp(0, 1)
    return image, labels


def tiny_models():
    return {
        "ssn": SSN(feature_dim=10, channels=8, train_superpixels=24),
        "hcssn": HCSSN(feature_dim=10, channels=8, train_superpixels=24),
        "scn": SCN(base_channels=4, cell=8),
        "pcnet": PCNet(base_channels=4, embed_dim=4, cell=8, patch_size=16),
    }


def training_batch(name):
    """The scene; for PCNet with its mirror image too: at 32 x 48 the trunk's bottleneck is 1 x 1
    (PCNet sees the image 4x smaller), and batch norm needs more than one value per channel."""
    image, labels = rectangles_scene()
    if name == "pcnet":
        image, labels = torch.cat((image, image.flip(-1))), torch.cat((labels, labels.flip(-1)))
    return image, labels


def run_forward(name, model, image, labels):
    return model(image, labels) if name == "pcnet" else model(image)


@pytest.mark.parametrize("name", ["ssn", "hcssn", "scn", "pcnet"])
def test_forward_association_is_a_distribution_over_valid_cells(name):
    torch.manual_seed(0)
    model = tiny_models()[name].train()
    image, labels = training_batch(name)
    out = run_forward(name, model, image, labels)
    assign, cell = out["assign"], int(out["cell"])
    assert assign.shape == (image.shape[0], 9, H, W) and assign.dtype == torch.float32
    valid = candidate_validity((H, W), (-(-H // cell), -(-W // cell)), cell)
    assert torch.all(assign[:, ~valid] == 0)
    torch.testing.assert_close(assign.sum(dim=1), torch.ones(image.shape[0], H, W))


@pytest.mark.parametrize("name", ["ssn", "hcssn", "scn", "pcnet"])
def test_segment_returns_contiguous_four_connected_int64_ids(name):
    torch.manual_seed(0)
    model = tiny_models()[name]
    image, _ = rectangles_scene()
    ids = model.segment(image[0], 24)
    assert ids.shape == (H, W) and ids.dtype == torch.int64
    count = int(ids.max()) + 1
    assert torch.equal(torch.unique(ids), torch.arange(count))
    # one 4-connected component per superpixel
    _, components = label_components(ids.numpy())
    assert components == count
    assert model.training  # segment restores the mode it found


@pytest.mark.parametrize("name", ["ssn", "hcssn", "scn", "pcnet"])
def test_losses_finite_and_decrease_under_adam(name):
    torch.manual_seed(0)
    model = tiny_models()[name].train()
    image, labels = training_batch(name)
    batch = {"image": image, "labels": labels}
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(20):
        out = run_forward(name, model, image, labels)
        total, parts = model.loss(out, batch)
        assert torch.isfinite(total) and all(torch.isfinite(v) for v in parts.values())
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        history.append(float(total))
    assert np.mean(history[-3:]) < history[0] - 0.05 * abs(history[0]), history


def test_hcssn_clusterings_are_on_the_gradient_path():
    torch.manual_seed(0)
    model = tiny_models()["hcssn"].train()
    image, labels = rectangles_scene()
    total, _ = model.loss(model(image), {"image": image, "labels": labels})
    total.backward()
    for clustering in model.features.clusterings:
        assert clustering.project_fine.weight.grad is not None
        assert clustering.project_fine.weight.grad.abs().sum() > 0


def test_slic_hard_assignment_is_the_nearest_of_the_nine_seeds():
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(1, 4, 7, 10, generator=gen, dtype=torch.float64)
    cell = 3  # partial last row and column of cells
    # the initial seeds are the means of the grid cells (up to pool_to_cells' 1e-6 weight epsilon)
    seeds0 = initial_seeds(features, cell).numpy()[0]
    f = features.numpy()[0]
    for m in range(3):
        for n in range(4):
            block = f[:, 3 * m:3 * m + 3, 3 * n:3 * n + 3]
            np.testing.assert_allclose(seeds0[:, m, n], block.reshape(4, -1).mean(axis=1), rtol=1e-6)
    slic = differentiable_slic(features, cell, iterations=3)
    seeds = slic["assign_seeds"].numpy()[0]  # (C, 3, 4)
    expected = np.zeros((7, 10), dtype=np.int64)
    for i in range(7):
        for j in range(10):
            best = None
            for dy, dx in candidate_offsets():
                m, n = i // cell + dy, j // cell + dx
                if 0 <= m < 3 and 0 <= n < 4:
                    distance = float(((f[:, i, j] - seeds[:, m, n]) ** 2).sum())
                    if best is None or distance < best[0]:
                        best = (distance, m * 4 + n)
            expected[i, j] = best[1]
    assert np.array_equal(superpixel_ids(slic["assign"], cell)[0].numpy(), expected)


def test_slic_iteration_gradcheck():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(1, 3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    seeds = torch.randn(1, 3, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, s: slic_iteration(f, s, 2), (features, seeds))


def test_superpixel_ids_matches_hard_assignment_with_ties_and_invalid_cells():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 3, (2, 9, 9, 11), generator=gen).float()  # many ties
    cell = 4
    valid = candidate_validity((9, 11), (3, 3), cell)
    chosen = hard_assignment(scores, valid).argmax(dim=1)
    offsets = torch.tensor(candidate_offsets())
    rows = torch.arange(9)[:, None] // cell + offsets[chosen, 0]
    cols = torch.arange(11)[None, :] // cell + offsets[chosen, 1]
    assert torch.equal(superpixel_ids(scores, cell), rows * 3 + cols)


def test_superpixel_ids_written_by_bands_are_the_whole_maps_ids_with_ties_and_invalid_cells():
    gen = torch.Generator().manual_seed(2)
    scores = torch.randint(0, 3, (2, 9, 13, 11), generator=gen).float()  # many ties, partial last cells
    for cell, band in ((4, 1), (4, 3), (5, 4), (3, 13)):
        out = torch.full((2, 13, 11), -1, dtype=torch.long)
        for top in range(0, 13, band):
            write_superpixel_ids_band(scores[:, :, top:top + band], cell, (13, 11), top, out)
        assert torch.equal(out, superpixel_ids(scores, cell)), (cell, band)


def test_pcnet_banded_inference_gives_the_whole_image_ids_bit_for_bit():
    # Random weights and image, sizes not multiples of 64 (padding, a partial last band), bands from
    # one low-resolution row (4 full-resolution rows: every band boundary) to more than the image.
    torch.manual_seed(0)
    model = PCNet(base_channels=8, embed_dim=4).eval()
    image = torch.rand(1, 3, 150, 203, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = model.inference_logits(image)
        for n in (20, 150):
            cell = grid_cell_size((150, 203), n)
            whole = superpixel_ids(logits, cell)
            for band in (4, 8, 60, 128, 256):
                banded = model.banded_superpixel_ids(image, cell, band)
                assert banded.dtype == torch.int64 and torch.equal(banded, whole), (n, band)
            model.inference_band_rows = 8
            assert torch.equal(model.superpixel_ids(image[0], n), whole[0])
            del model.inference_band_rows
    with pytest.raises(ValueError, match="multiple of 4"):
        model.banded_superpixel_ids(image, 16, 6)


def test_grid_cell_size_gives_a_count_close_to_n():
    assert grid_cell_size((1024, 2048), 8192) == 16
    for hw, n in (((32, 48), 24), ((321, 481), 200), ((100, 100), 1)):
        cell = grid_cell_size(hw, n)
        count = -(-hw[0] // cell) * -(-hw[1] // cell)
        assert abs(count - n) <= 0.5 * n + 2, (hw, n, cell, count)


def test_rgb_to_lab_matches_skimage():
    from skimage.color import rgb2lab

    gen = np.random.default_rng(0)
    rgb = gen.random((3, 17, 19))
    rgb[:, 0, :3] = [[0, 1, 0.04045], [0, 1, 0.0404], [0, 1, 0.001]]  # black, white, near the thresholds
    ours = rgb_to_lab(torch.from_numpy(rgb).float()).numpy()
    reference = rgb2lab(rgb.transpose(1, 2, 0)).transpose(2, 0, 1)
    np.testing.assert_allclose(ours, reference, atol=1e-3)
    # finite gradients, including at black
    x = torch.from_numpy(rgb).requires_grad_()
    rgb_to_lab(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("size", [(33, 50), (17, 31), (16, 16)])
def test_scn_pads_to_the_cell_and_crops_back(size):
    torch.manual_seed(0)
    model = SCN(base_channels=4).eval()
    image = torch.rand(1, 3, *size)
    padded = pad_to_multiple(image, 16)
    assert padded.shape[-2] % 16 == 0 and padded.shape[-1] % 16 == 0
    assert torch.equal(padded[..., :size[0], :size[1]], image)
    assert torch.equal(padded[..., -1, :size[1]], image[..., -1, :])  # replicated, not reflected or zero
    with torch.no_grad():
        out = model(image)
    assert out["assign"].shape == (1, 9, *size)
    ids = model.segment(image[0], 4)
    assert ids.shape == size


def test_pcnet_subpixel_layer_gives_four_times_the_input_map():
    torch.manual_seed(0)
    model = PCNet(base_channels=4, embed_dim=4).eval()
    low = torch.rand(1, 3, 16, 32)
    with torch.no_grad():
        out = model.network(low, super_resolve=True)
    assert out["logits"].shape == (1, 9, 64, 128)
    assert out["embedding"].shape == (1, 4, 64, 128)
    assert out["reconstruction"].shape == (1, 3, 64, 128)
    # the full-resolution path: pad to 64, downsample by 4, crop back
    with torch.no_grad():
        full = model.predict(torch.rand(1, 3, 70, 90), cell=16, super_resolve=False)
    assert full["assign"].shape == (1, 9, 70, 90) and "reconstruction" not in full


def test_pcnet_patch_crop_holds_a_boundary_and_exact_label_ids():
    image, labels = rectangles_scene()
    labels = labels.repeat(3, 1, 1)
    labels[1] *= 10  # sparse ids must survive exactly
    image = image.repeat(3, 1, 1, 1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(10):
        patches, patch_labels, corners = crop_boundary_patch(image, labels, 12, generator)
        assert patches.shape == (3, 3, 12, 12) and patch_labels.dtype == torch.int64
        assert boundary_mask(patch_labels).flatten(1).any(dim=1).all()
        for b in range(3):
            top, left = corners[b].tolist()
            assert torch.equal(patch_labels[b], labels[b, top:top + 12, left:left + 12])
            assert torch.equal(patches[b], image[b, :, top:top + 12, left:left + 12])
            assert set(patch_labels[b].unique().tolist()) <= set(labels[b].unique().tolist())


def test_pcnet_ids_are_integers_and_never_interpolated():
    torch.manual_seed(0)
    model = PCNet(base_channels=4, embed_dim=4)
    image, _ = rectangles_scene(37, 53)
    raw = model.superpixel_ids(image[0], 12)
    assert raw.dtype == torch.int64 and raw.shape == (37, 53)
    cell = grid_cell_size((37, 53), 12)
    assert raw.min() >= 0 and raw.max() < (-(-37 // cell)) * (-(-53 // cell))
    ids = model.segment(image[0], 12)
    assert ids.dtype == torch.int64 and not ids.is_floating_point()


def test_dynamic_guiding_mask_picks_the_class_with_the_longest_boundary():
    labels = torch.zeros(1, 10, 10, dtype=torch.long)
    labels[0, :, 5:] = 7      # class 7 borders class 0 along 10 rows
    labels[0, 0:2, 0:2] = 3   # class 3: a small corner, boundary length 4 with class 0
    labels[0, 9, 9] = -1      # ignored pixel stays ignored
    mask = dynamic_guiding_mask(labels)
    # class 0 touches both 7 (10 pairs) and 3 (4 pairs): it has the longest boundary
    expected = (labels == 0).long()
    expected[0, 9, 9] = -1
    assert torch.equal(mask, expected)


def test_boundary_masked_l1_only_counts_the_dilated_boundaries():
    labels = torch.zeros(1, 40, 40, dtype=torch.long)
    labels[0, :, 20:] = 1  # a vertical boundary between columns 19 and 20
    mask = dilated_boundaries(labels)[0, 0]
    # boundary pixels are columns 19 and 20; the 16-wide window reaches 7 before and 8 after
    assert mask[:, 11:28].all() and not mask[:, :11].any() and not mask[:, 28:].any()
    target = torch.zeros(1, 3, 40, 40)
    far_error = target.clone()
    far_error[..., :5] = 1.0
    assert float(boundary_masked_l1(target, far_error, labels)) == 0.0
    near_error = target.clone()
    near_error[:, 0, :, 19] = 1.0
    assert float(boundary_masked_l1(target, near_error, labels)) == pytest.approx(40 / mask.sum().item())


def test_local_discrimination_rewards_separated_embeddings():
    labels = torch.zeros(1, 12, 12, dtype=torch.long)
    labels[0, :, 6:] = 1
    gen = torch.Generator().manual_seed(0)
    noise = 0.1 * torch.randn(1, 3, 12, 12, generator=gen)
    separated = noise + labels.unsqueeze(1).float()
    mixed = noise + torch.rand(1, 3, 12, 12, generator=gen)
    separated_loss = local_discrimination_loss(separated, labels, generator=torch.Generator().manual_seed(0))
    mixed_loss = local_discrimination_loss(mixed, labels, generator=torch.Generator().manual_seed(0))
    assert separated_loss < mixed_loss < 0
    # no two-region window (a single label): zero, still differentiable
    flat = local_discrimination_loss(separated.requires_grad_(), torch.zeros(1, 12, 12, dtype=torch.long))
    assert float(flat) == 0.0 and flat.requires_grad


def test_segment_rejects_bad_inputs():
    model = SCN(base_channels=4)
    with pytest.raises(DsbenchError):
        model.segment(torch.rand(32, 48, 3), 10)
    with pytest.raises(DsbenchError):
        model.segment(torch.rand(3, 32, 48), 0)
    with pytest.raises(DsbenchError):
        model.segment((torch.rand(3, 8, 8) * 255).to(torch.uint8), 4)


def test_perf_measurement_on_a_tiny_size(monkeypatch):
    from methods.superpixels import perf

    # the allocator peak sees a tensor created and freed inside the call
    assert perf.peak_allocated_bytes(lambda: torch.empty(1 << 20, dtype=torch.uint8).fill_(1)) >= 1 << 20
    monkeypatch.setitem(perf.SIZES, "tiny", (64, 128))
    row = perf.measure("tiny", (SCN(base_channels=4).eval(), PCNet(base_channels=4, embed_dim=4).eval()), repeats=1)
    assert row["n_superpixels"] == 32
    for key in ("scn_s", "pcnet_s", "scn_peak_mb", "pcnet_peak_mb", "speedup", "memory_ratio"):
        assert row[key] > 0, key
    # SCN keeps full-resolution feature maps, PCNet only a band of its embedding and logits
    assert row["scn_peak_mb"] > row["pcnet_peak_mb"]
