"""Every transcription in results/reported/ follows the README's schema; Suzuki's tables are self-consistent."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paper_figures.reported import REPORTED_COLUMNS, REPORTED_DIR, load_reported

CSVS = sorted(REPORTED_DIR.glob("*.csv"))


def test_the_folder_holds_the_transcriptions():
    assert {p.stem for p in CSVS} >= {"marin2019", "jin2022", "alcover2023", "suzuki2021"}


@pytest.mark.parametrize("path", CSVS, ids=lambda p: p.stem)
def test_schema(path: Path):
    assert list(pd.read_csv(path, nrows=0).columns) == REPORTED_COLUMNS
    df = load_reported(path.stem)
    assert len(df) and (df["paper"] == path.stem).all()
    assert df["value"].notna().all() and df["unit"].notna().all() and df["metric"].notna().all()
    # accuracies are fractions in [0, 1] (a percentage left unconverted would read 72.9)
    accuracies = df.loc[df["metric"].isin(["iou", "miou", "miou_target", "pixel_accuracy"]), "value"]
    assert len(accuracies) and ((accuracies >= 0) & (accuracies <= 1)).all()


def test_suzuki_table2_miou_is_the_mean_of_its_printed_classes():
    df = load_reported("suzuki2021")
    table2 = df[df["source"] == "Table 2"]
    assert table2["model"].nunique() == 9
    for model, rows in table2.groupby("model"):
        per_class = rows[rows["metric"] == "iou"]
        assert len(per_class) == 19, model
        printed = float(rows.loc[rows["metric"] == "miou", "value"].iloc[0])
        assert abs(per_class["value"].mean() - printed) <= 0.0011, model  # printed to 0.1 point


def test_suzuki_table3_hcpspnet_speedup_as_printed():
    df = load_reported("suzuki2021")
    latency = df[(df["source"] == "Table 3") & (df["metric"] == "latency")].set_index("model")["value"]
    assert latency["pspnet_resnet101"] / latency["hcpspnet_resnet101"] == pytest.approx(298.7 / 87.0)
