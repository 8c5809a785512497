"""Classical superpixels (SLIC, FH, SEEDS, LSC, SNIC, ERS) and the shared connectivity enforcement."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from benchmark.errors import DsbenchError
from methods.superpixels import classical
from methods.superpixels.connectivity import enforce_connectivity
from methods.superpixels.ers import (balance_weight, entropy_rate_objective, ers, greedy_merge,
                                     pixel_graph)
from methods.superpixels.snic import snic

ALGORITHMS = {"slic": classical.slic, "felzenszwalb": classical.felzenszwalb, "seeds": classical.seeds,
              "lsc": classical.lsc, "snic": snic, "ers": ers}
N_SUPERPIXELS = 48  # nominal size 100 px on the 60 x 80 test image


def rectangles_image() -> tuple[np.ndarray, np.ndarray]:
    """60 x 80 RGB of coloured rectangles on grey plus seeded noise, and its region map."""
    regions = np.zeros((60, 80), dtype=np.int64)
    regions[5:30, 8:40] = 1
    regions[22:55, 30:70] = 2  # overlaps 1: an L-shaped border
    regions[38:58, 4:22] = 3
    colours = np.array([[128, 128, 128], [220, 40, 40], [30, 160, 60], [40, 60, 210]], dtype=np.float64)
    noise = np.random.default_rng(0).normal(0.0, 6.0, regions.shape + (3,))
    return np.clip(colours[regions] + noise, 0, 255).astype(np.uint8), regions


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label."""
    mask = np.zeros(labels.shape, dtype=bool)
    horizontal = labels[:, 1:] != labels[:, :-1]
    vertical = labels[1:, :] != labels[:-1, :]
    mask[:, 1:] |= horizontal
    mask[:, :-1] |= horizontal
    mask[1:, :] |= vertical
    mask[:-1, :] |= vertical
    return mask


def assert_one_component_each(labels: np.ndarray) -> None:
    for i in range(int(labels.max()) + 1):
        _, pieces = ndimage.label(labels == i)  # default structure: 4-connectivity
        assert pieces == 1, f"superpixel {i} has {pieces} 4-connected pieces"


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when a and b differ only by a renaming of ids."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == np.unique(a).size == np.unique(b).size


@pytest.fixture(scope="module")
def image_and_regions():
    return rectangles_image()


@pytest.fixture(scope="module")
def outputs(image_and_regions):
    image, _ = image_and_regions
    return {name: f(image, N_SUPERPIXELS) for name, f in ALGORITHMS.items()}


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_output_contract(name, outputs):
    labels = outputs[name]
    assert labels.shape == (60, 80) and labels.dtype == np.int64
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(ids.size))  # contiguous from 0
    assert_one_component_each(labels)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_count_within_factor_two_of_request(name, outputs):
    # OpenCV's SEEDS returns fewer superpixels than asked (its block grid), SLIC keeps some
    # fragments above 6% of the nominal size: a factor of two either way covers every method.
    count = int(outputs[name].max()) + 1
    assert N_SUPERPIXELS / 2 <= count <= 2 * N_SUPERPIXELS, count


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_deterministic(name, image_and_regions, outputs):
    image, _ = image_and_regions
    np.testing.assert_array_equal(ALGORITHMS[name](image.copy(), N_SUPERPIXELS), outputs[name])


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_rectangle_edges_recovered(name, image_and_regions, outputs):
    _, regions = image_and_regions
    truth = boundary_mask(regions)
    near_predicted = ndimage.binary_dilation(boundary_mask(outputs[name]), structure=np.ones((3, 3), bool))
    recall = near_predicted[truth].mean()
    assert recall > 0.9, f"{name}: only {recall:.1%} of the rectangles' edge pixels within 1 px of a boundary"


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_rejects_bad_input(name):
    with pytest.raises(DsbenchError, match="uint8"):
        ALGORITHMS[name](np.zeros((8, 8, 3), dtype=np.float32), 4)
    with pytest.raises(DsbenchError, match="n_superpixels"):
        ALGORITHMS[name](np.zeros((8, 8, 3), dtype=np.uint8), 0)


def test_felzenszwalb_bisection_reaches_the_request(image_and_regions):
    image, _ = image_and_regions
    # The bisection's aim: FH has no count parameter, yet the count lands close to n.
    for n in (20, 80):
        count = int(classical.felzenszwalb(image, n).max()) + 1
        assert abs(count - n) <= 0.25 * n, (n, count)


# --- enforce_connectivity by hand ---------------------------------------------------------------

def test_isolated_island_is_merged():
    labels = np.zeros((10, 10), dtype=np.int64)
    labels[5, 5] = 7  # 1 px < 0.06 * 100
    out = enforce_connectivity(labels, n_nominal=1)
    np.testing.assert_array_equal(out, np.zeros((10, 10)))


def test_island_joins_the_neighbour_with_the_longest_border():
    labels = np.zeros((10, 10), dtype=np.int64)
    labels[:, 5:] = 1
    labels[4:6, 4] = 2  # 4 border pairs with label 0 (left, up, down), 2 with label 1 (right)
    out = enforce_connectivity(labels, n_nominal=2)  # min size 0.06 * 50 = 3 > 2
    expected = np.zeros((10, 10), dtype=np.int64)
    expected[:, 5:] = 1
    np.testing.assert_array_equal(out, expected)


def test_disconnected_label_splits_into_two_ids():
    labels = np.zeros((10, 10), dtype=np.int64)
    labels[:, 3:7] = 1  # label 0 is two strips, left and right
    out = enforce_connectivity(labels, n_nominal=3)
    assert out.dtype == np.int64 and out.max() == 2
    assert len({out[0, 0], out[0, 5], out[0, 9]}) == 3
    assert_one_component_each(out)


def test_connected_map_unchanged_up_to_relabelling():
    tiles = np.random.default_rng(1).permutation(20).reshape(4, 5) * 7 + 3  # arbitrary ids
    labels = np.kron(tiles, np.ones((5, 4), dtype=np.int64))  # 20 x 20, tiles of 20 px
    out = enforce_connectivity(labels, n_nominal=20)
    assert same_partition(out, labels)
    np.testing.assert_array_equal(np.unique(out), np.arange(20))
    assert out[0, 0] == 0 and out[0, 4] == 1  # numbered in raster order


def test_oversized_component_is_cut_into_connected_pieces():
    labels = np.zeros((10, 10), dtype=np.int64)
    out = enforce_connectivity(labels, n_nominal=10)  # nominal 10 px, at most 30 px per piece
    sizes = np.bincount(out.ravel())
    assert sizes.max() <= 30 + 0.06 * 10 and out.max() + 1 >= 4
    assert_one_component_each(out)
    kept_whole = enforce_connectivity(labels, n_nominal=10, max_fraction=None)
    np.testing.assert_array_equal(kept_whole, labels)


def test_small_pieces_absorbed_until_big_enough():
    # A 2 px piece next to a 1 px piece: merging them (3 px) is still below 0.06 * 100 = 6 px,
    # so the merged piece must be absorbed again.
    labels = np.zeros((10, 10), dtype=np.int64)
    labels[0, 0:2] = 1
    labels[0, 2] = 2
    out = enforce_connectivity(labels, n_nominal=1)
    np.testing.assert_array_equal(out, np.zeros((10, 10)))


def test_enforce_connectivity_rejects_bad_maps():
    with pytest.raises(DsbenchError, match=r"\(H, W\)"):
        enforce_connectivity(np.zeros((2, 3, 4), dtype=np.int64), 4)
    with pytest.raises(DsbenchError, match="integers"):
        enforce_connectivity(np.zeros((4, 4)), 4)
    with pytest.raises(DsbenchError, match="n_nominal"):
        enforce_connectivity(np.zeros((4, 4), dtype=np.int64), 0)


# --- ERS objective against brute force ----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_ers_greedy_step_is_the_brute_force_best(seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (3, 4, 3)).astype(np.uint8)
    image[:, 2:] //= 8  # a colour edge, so the weights differ by orders of magnitude
    heads, tails, weights = pixel_graph(image, sigma=40.0)
    n = image.shape[0] * image.shape[1]
    balance = balance_weight(n, heads, tails, weights, n_clusters=2)
    assert balance > 0
    _, chosen = greedy_merge(n, heads, tails, weights, n_clusters=2, balance=balance)
    assert len(chosen) == n - 2  # every accepted edge joins two clusters

    def objective(edges):
        return entropy_rate_objective(n, heads, tails, weights, edges, balance)

    def joins_two_clusters(edges, e):
        parent = list(range(n))

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i

        for f in edges:
            parent[find(heads[f])] = find(tails[f])
        return find(heads[e]) != find(tails[e])

    previous = objective([])
    for step, e in enumerate(chosen):
        done = chosen[:step]
        value = objective(done + [e])
        assert value >= previous - 1e-12  # a merge never lowers F
        candidates = [f for f in range(len(weights)) if joins_two_clusters(done, f)]
        best = max(objective(done + [f]) for f in candidates)
        assert value == pytest.approx(best, abs=1e-12), f"step {step} did not take the best edge"
        previous = value


def test_entropy_rate_by_hand():
    # Two vertices, one edge of weight 1: each has degree 1, so choosing the edge makes both
    # walks deterministic (p = 1): entropy 0. A path 0-1-2 with unit weights: the middle vertex
    # (degree 2, mu = 1/2) splits evenly once both edges are chosen, entropy rate log(2) / 2.
    assert entropy_rate_objective(2, [0], [1], [1.0], [0], balance=0.0) == pytest.approx(0.0)
    assert entropy_rate_objective(3, [0, 1], [1, 2], [1.0, 1.0], [0, 1], 0.0) == pytest.approx(np.log(2) / 2)
    # Balancing alone: two singletons = log 2 - 2; merged = 0 - 1.
    assert entropy_rate_objective(2, [0], [1], [1.0], [], balance=1.0) == pytest.approx(np.log(2) - 2)
    assert entropy_rate_objective(2, [0], [1], [1.0], [0], balance=1.0) == pytest.approx(-1.0)


def test_ers_forest_on_two_colour_image_follows_the_edge():
    image = np.zeros((6, 8, 3), dtype=np.uint8)
    image[:, 4:] = 200
    heads, tails, weights = pixel_graph(image)
    clusters, _ = greedy_merge(48, heads, tails, weights, n_clusters=2,
                               balance=balance_weight(48, heads, tails, weights, 2))
    expected = np.zeros((6, 8), dtype=np.int64)
    expected[:, 4:] = 1
    assert same_partition(clusters.reshape(6, 8), expected)


def test_ers_rejects_bad_parameters():
    with pytest.raises(DsbenchError, match="sigma"):
        ers(np.zeros((8, 8, 3), dtype=np.uint8), 4, sigma=0.0)


def test_pixel_graph_is_eight_connected():
    # 3 x 4 grid: 3*3 horizontal + 2*4 vertical + 2 * 2*3 diagonal edges; equal colours weigh 1
    # straight, and a diagonal's sqrt(2) spacing only matters once colours differ.
    heads, tails, weights = pixel_graph(np.zeros((3, 4, 3), dtype=np.uint8))
    assert heads.size == 29
    pairs = {tuple(sorted(p)) for p in zip(heads.tolist(), tails.tolist())}
    assert len(pairs) == 29 and (0, 5) in pairs and (1, 4) in pairs and (0, 2) not in pairs
    np.testing.assert_allclose(weights, 1.0)
