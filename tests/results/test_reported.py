"""Every CSV of numbers transcribed from the papers (results/reported/) follows one schema.

Paper-specific spot checks (a value, a table's size, a claim the paper's own numbers support)
live beside each method family's tests."""
from pathlib import Path

import pandas as pd
import pytest

from benchmark.results import METRICS
from paper_figures.reported import REPORTED_COLUMNS

REPORTED = Path(__file__).resolve().parents[2] / "results" / "reported"
KEY = ["source", "dataset", "method", "model", "height", "width", "metric", "class_name", "setting"]


@pytest.mark.parametrize("csv", sorted(REPORTED.glob("*.csv")), ids=lambda p: p.stem)
def test_reported_numbers_follow_the_schema(csv):
    df = pd.read_csv(csv)
    assert list(df.columns) == REPORTED_COLUMNS
    assert len(df) > 0 and (df["paper"] == csv.stem).all()
    assert df["metric"].notna().all() and df["unit"].notna().all()
    ours = df[df["metric"].isin(METRICS)]  # our metric names where one matches, else the paper's
    assert len(ours), f"{csv.name}: no metric named as the suite names it"
    # accuracies are fractions in [0, 1] (a percentage left unconverted would read 72.9); prior
    # discrepancies are signed differences
    accuracies = df.loc[df["metric"].isin(["iou", "miou", "miou_target", "pixel_accuracy"]), "value"]
    assert accuracies.between(0, 1).all(), f"{csv.name}: an accuracy outside [0, 1]"
    assert df["value"].notna().all() and df["source"].notna().all()
    duplicated = df[df.duplicated(KEY, keep=False)]
    assert duplicated.empty, f"{csv.name}: the same number twice:\n{duplicated.head()}"


def test_every_paper_with_numbers_is_transcribed():
    assert {p.stem for p in REPORTED.glob("*.csv")} >= {"marin2019", "jin2022", "alcover2023", "suzuki2021"}
