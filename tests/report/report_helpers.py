"""Synthetic runs for the report's tests: per-image counts with a known effect, their rows and claims.

A module of its own name (not conftest): tests of other folders import their own conftest."""
import textwrap

import numpy as np

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
