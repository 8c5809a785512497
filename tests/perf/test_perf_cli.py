"""`dsbench perf NAME --json`: every registered benchmark runs (quick inputs) and reports the keys
the issues ask for; ratios are printed, never asserted (these machines are noisy)."""
import json
import math

import pytest

from benchmark.cli import main


# soft-labels and hc-latency take 8-20 s even with --quick: with the slow tests.
@pytest.mark.parametrize("name", ["unsample", "sampling-tensor", pytest.param("soft-labels", marks=pytest.mark.slow),
                                  pytest.param("hc-latency", marks=pytest.mark.slow)])
def test_quick_json_has_baseline_ours_and_speedup(name, capsys, monkeypatch):
    if name == "hc-latency":
        from methods.hierarchical_clustering import perf as hc_latency

        # eight stride-8 / stride-32 networks: a tiny image keeps the check of the keys fast
        monkeypatch.setattr(hc_latency, "QUICK_SIZE", (64, 128))
    assert main(["perf", name, "--quick", "--json", "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["baseline_s"] > 0 and result["ours_s"] > 0
    assert math.isclose(result["speedup"], result["baseline_s"] / result["ours_s"], rel_tol=1e-9)
    if name == "unsample":
        assert result["floor_s"] > 0
    if name == "hc-latency":
        pairs = {row["name"] for row in result["rows"]}
        assert pairs == {"pspnet vs hcpspnet", "deeplabv3 vs hcdeeplabv3", "atrous_fcn vs hcfcn32", "fcn32 vs hcfcn32"}
        for row in result["rows"]:
            assert row["baseline_s"] > 0 and row["ours_s"] > 0 and row["macs_ratio"] > 0
        # the stride-8 heads cost more MACs than the same heads at stride 32 (a count, not a timing)
        assert all(row["macs_ratio"] > 1 for row in result["rows"] if row["baseline"] != "fcn32")


def test_table_output_names_the_ratio(capsys):
    assert main(["perf", "sampling-tensor", "--quick"]) == 0
    assert "speedup (baseline / ours)" in capsys.readouterr().out


def test_unknown_benchmark_is_a_one_line_error(capsys):
    assert main(["perf", "no-such-benchmark"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-benchmark" in err


def test_help_lists_every_registered_benchmark(capsys, monkeypatch):
    import benchmark.perf.all  # noqa: F401  registers every benchmark
    from benchmark.cli import PERF_NAMES
    from benchmark.perf import PERF

    assert sorted(PERF_NAMES) == sorted(key.replace("_", "-") for key in PERF.keys())
    monkeypatch.setenv("COLUMNS", "400")  # one line: argparse would wrap the list at its hyphens
    with pytest.raises(SystemExit):
        main(["perf", "--help"])
    listed = capsys.readouterr().out
    assert f"one of {', '.join(PERF_NAMES)}" in listed
