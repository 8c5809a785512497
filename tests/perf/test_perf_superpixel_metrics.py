"""`dsbench perf superpixel-metrics --quick`: positive times, agreement with the loop baseline."""
import json
import math

import numpy as np

from benchmark.cli import main
from benchmark.perf.superpixel_metrics import baseline_loop_metrics, grid_superpixels, ours_metrics, run


def test_quick_run_reports_positive_times_and_agrees_with_the_loops():
    result = run(quick=True)
    assert result.name == "superpixel-metrics"
    assert result.baseline_s > 0 and result.ours_s > 0
    assert result.details["max_abs_diff_vs_baseline"] < 1e-12
    assert result.details["sweep_evaluations"] > 0 and result.details["sweep_ours_all_metrics_s"] > 0
    assert result.details["tolerance_radius"] == 1


def test_cli_name_with_hyphen(capsys):
    assert main(["perf", "superpixel-metrics", "--quick", "--json", "--threads", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert math.isclose(out["speedup"], out["baseline_s"] / out["ours_s"], rel_tol=1e-9)


def test_grid_superpixels_count_and_baseline_agreement():
    sp = grid_superpixels(321, 481, 400)
    assert abs(len(np.unique(sp)) - 400) <= 40
    assert np.array_equal(np.unique(sp), np.arange(sp.max() + 1))
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 3, (6, 8)).repeat(4, 0).repeat(4, 1)
    grid = grid_superpixels(*gt.shape, 12)
    for r in (0, 1, 2):
        ours, loops = ours_metrics(grid, gt, r), baseline_loop_metrics(grid, gt, r)
        assert ours.keys() == loops.keys()
        for key in ours:
            assert math.isclose(ours[key], loops[key], abs_tol=1e-12), key
