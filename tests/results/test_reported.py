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
    unknown = set(df["metric"]) - set(METRICS)
    assert not unknown, f"{csv.name}: metrics {sorted(unknown)} are not in benchmark.results.METRICS"
    fractions = df[df["unit"] == "fraction"]["value"]
    assert fractions.between(0, 1).all(), f"{csv.name}: a fraction outside [0, 1]"
    assert df["value"].notna().all() and df["source"].notna().all()
    duplicated = df[df.duplicated(KEY, keep=False)]
    assert duplicated.empty, f"{csv.name}: the same number twice:\n{duplicated.head()}"


def test_every_paper_with_numbers_is_transcribed():
    assert {p.stem for p in REPORTED.glob("*.csv")} >= {"marin2019", "jin2022", "alcover2023"}
