"""`dsbench perf NAME --json`: every registered benchmark runs (quick inputs) and reports the keys
the issues ask for; ratios are printed, never asserted (these machines are noisy)."""
import json
import math

import pytest

from benchmark.cli import main


@pytest.mark.parametrize("name", ["unsample", "sampling-tensor", "soft-labels"])
def test_quick_json_has_baseline_ours_and_speedup(name, capsys):
    assert main(["perf", name, "--quick", "--json", "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["baseline_s"] > 0 and result["ours_s"] > 0
    assert math.isclose(result["speedup"], result["baseline_s"] / result["ours_s"], rel_tol=1e-9)
    if name == "unsample":
        assert result["floor_s"] > 0


def test_table_output_names_the_ratio(capsys):
    assert main(["perf", "sampling-tensor", "--quick"]) == 0
    assert "speedup (baseline / ours)" in capsys.readouterr().out


def test_unknown_benchmark_is_a_one_line_error(capsys):
    assert main(["perf", "no-such-benchmark"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-benchmark" in err
