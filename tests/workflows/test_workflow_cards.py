"""A dataset card in the workflow config: `datasets: {NAME: {card: FILE}}` validates, and its
rules get --dataset-card (the card names the root) instead of --dataset/--root."""
import copy
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.errors import DsbenchError
from benchmark.matrix import build_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_data_card_runs import make_card_dataset  # noqa: E402  the card fixture dataset

from test_workflow import ROOT, snakemake, write_experiment  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())


def with_datasets(datasets):
    config = copy.deepcopy(CONFIG)
    config["datasets"] = datasets
    return config


def test_card_entry_validates_and_takes_no_other_key():
    assert build_matrix(with_datasets({"mine": {"card": "cards/mine.yaml"}}))["datasets"]["mine"] == {
        "card": "cards/mine.yaml"}
    with pytest.raises(DsbenchError) as error:
        build_matrix(with_datasets({"mine": {"card": "cards/mine.yaml", "root": "/data/mine"}}))
    assert str(error.value).startswith("datasets.mine.root: not an allowed key here")
    assert "only card: FILE" in str(error.value)


@pytest.mark.slow  # one Snakemake dry run (~10 s)
def test_dry_run_passes_the_card_to_every_dataset_rule(tmp_path):
    card = make_card_dataset(tmp_path, "card_wf")
    extra = write_experiment(tmp_path / "cards.yaml", "cards", superpixels={}, datasets={"card_wf": {"card": str(card)}},
                             methods={"uniform": {"method": "uniform"}, "edge_based": {"method": "edge_based"},
                                      "soft_labels": {"method": "soft_labels"}},
                             resolutions=["16x32"])
    proc = snakemake("-n", "-p", "--cores", "2", "--configfile", str(extra), "--config", "experiment=cards",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    for verb in ("train", "prepare edge_based", "study priors"):
        assert f"dsbench {verb} --dataset-card {card}" in out, verb
    assert "--root" not in out and "rule make_data:" not in out
    # the entry's name must be the card's
    wrong = write_experiment(tmp_path / "wrong.yaml", "cards", superpixels={}, datasets={"other": {"card": str(card)}},
                             methods={"uniform": {"method": "uniform"}}, resolutions=["16x32"])
    proc = snakemake("-n", "--cores", "1", "--configfile", str(wrong), "--config", "experiment=cards", cwd=tmp_path)
    assert proc.returncode != 0
    assert f"datasets.other.card: {card} names the dataset 'card_wf'; rename the entry to card_wf" in proc.stdout + proc.stderr
