"""Synthetic runs for the report's tests: per-image counts with a known effect, and their rows."""
import textwrap

import numpy as np
import pytest

from benchmark.metrics import MetricSuite
from benchmark.results import to_frame

CLASSES = ["road", "pole", "sky"]


def toy_images(n_images, seed=0, size=12):
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_images):
        labels = np.zeros((size, size), np.int64)
        labels[: size // 3] = 2
        labels[:, rng.integers(2, size - 2)] = 1          # a one-pixel pole
        images.append(labels)
    return images


def toy_run(runs, method, accuracy, difficulty, images, seed=0, noise_seed=0, dataset="toy", resolution=(16, 32)):
    """A run whose prediction of image i is right with probability accuracy + difficulty[i]; its
    counts.npz under runs/<run_id>/ and its rows (MetricSuite.rows)."""
    rng = np.random.default_rng(noise_seed)
    suite = MetricSuite(len(CLASSES), CLASSES, with_instances=False)
    for i, labels in enumerate(images):
        right = rng.random(labels.shape) < np.clip(accuracy + difficulty[i], 0, 1)
        suite.process(np.where(right, labels, (labels + 1) % len(CLASSES)), labels, ids=[f"img{i}"])
    h, w = resolution
    run_id = f"{dataset}-{method}-net-{h}x{w}-s{seed}"
    suite.save_counts(runs / run_id / "counts.npz")
    identity = dict(run_id=run_id, dataset=dataset, split="val", track="input_downsampling", method=method,
                    params="{}", model="net", height=h, width=w, seed=seed)
    return suite.rows(identity)


@pytest.fixture
def toy(tmp_path):
    """``(runs dir, rows frame)`` of three methods on 24 images: better (+0.15 accuracy), same
    (the baseline's accuracy, other pixel noise) and baseline; image difficulty shared by all."""
    runs = tmp_path / "runs"
    images = toy_images(24)
    difficulty = np.random.default_rng(1).uniform(-0.2, 0.2, len(images))
    rows = (toy_run(runs, "better", 0.75, difficulty, images, noise_seed=1)
            + toy_run(runs, "same", 0.6, difficulty, images, noise_seed=2)
            + toy_run(runs, "baseline", 0.6, difficulty, images, noise_seed=3))
    return runs, to_frame(rows)


def write_claims(path, body):
    path.write_text("claims:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return path


CLAIM = """\
- id: {id}
  paper: marin2019
  statement: {treatment} beats {control}.
  where: Table 2
  select: {{dataset: {dataset}, metric: {metric}}}
  treatment: {{method: {treatment}}}
  control: {{method: {control}}}
  direction: "{direction}"
  {extra}
  rule: the interval decides
"""


def claim_text(id="c", treatment="better", control="baseline", direction=">", metric="miou", dataset="toy",
               extra=""):
    return CLAIM.format(id=id, treatment=treatment, control=control, direction=direction, metric=metric,
                        dataset=dataset, extra=extra)
