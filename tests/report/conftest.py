"""The report tests' fixture: three synthetic methods with per-image counts (report_helpers)."""
import numpy as np
import pytest

from benchmark.results import to_frame
from report_helpers import toy_images, toy_run


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

