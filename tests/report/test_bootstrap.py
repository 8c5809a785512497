"""The paired bootstrap against a brute-force loop on a tiny case."""
import numpy as np
import pytest

from benchmark.metrics import miou_from_confusion
from benchmark.report.bootstrap import ConfusionLeaf, Quantity, paired_bootstrap, percentile_interval


def tiny(seed, n_images=5, classes=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 20, size=(n_images, classes, classes + 1)).astype(np.int64)


@pytest.mark.parametrize("seeds", [[0], [0, 1]])
def test_interval_equals_a_brute_force_loop(seeds):
    treatment = {s: tiny(10 + s) for s in seeds}
    control = {s: tiny(20 + s) for s in seeds}
    quantities = [Quantity({s: ConfusionLeaf(treatment[s], "miou") for s in seeds}),
                  Quantity({s: ConfusionLeaf(control[s], "miou") for s in seeds})]
    full, samples, n_seeds, n_images = paired_bootstrap(quantities, lambda v: v[0] - v[1], 200,
                                                        np.random.default_rng(7))
    # Brute force: the documented draw order, one generator: seed positions, then per drawn seed the images.
    rng = np.random.default_rng(7)
    expected = []
    for _ in range(200):
        drawn = rng.integers(0, len(seeds), size=len(seeds))
        t, c = [], []
        for position in drawn:
            seed = seeds[position]
            images = rng.integers(0, 5, size=5)
            t.append(miou_from_confusion(sum(treatment[seed][i] for i in images)))
            c.append(miou_from_confusion(sum(control[seed][i] for i in images)))
        expected.append(np.mean(t) - np.mean(c))
    np.testing.assert_allclose(samples, expected, rtol=0, atol=1e-12)
    low, high, undefined = percentile_interval(samples)
    assert (low, high) == pytest.approx(tuple(np.percentile(expected, [2.5, 97.5])))
    assert undefined == 0 and n_seeds == len(seeds) and n_images == 5
    assert full == pytest.approx(np.mean([miou_from_confusion(treatment[s].sum(0)) for s in seeds])
                                 - np.mean([miou_from_confusion(control[s].sum(0)) for s in seeds]))


def test_runs_are_paired_on_image_ids():
    a = tiny(1)
    ids = np.array([f"i{k}" for k in range(5)])
    shuffled = np.array([3, 0, 4, 1, 2])
    same = [Quantity({0: ConfusionLeaf(a, "miou", image_ids=ids)}),
            Quantity({0: ConfusionLeaf(a[shuffled], "miou", image_ids=ids[shuffled])})]
    full, samples, _, _ = paired_bootstrap(same, lambda v: v[0] - v[1], 50, np.random.default_rng(0))
    assert full == 0 and np.all(samples == 0)  # the same images, in another order: no difference in any draw
