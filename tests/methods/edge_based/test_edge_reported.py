"""results/reported/marin2019.csv follows the reported-numbers schema and holds Tables 2-5."""
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.results import METRICS
from paper_figures.reported import REPORTED_COLUMNS

CSV = Path(__file__).resolve().parents[3] / "results" / "reported" / "marin2019.csv"


def test_schema_and_ranges():
    df = pd.read_csv(CSV)
    assert list(df.columns) == REPORTED_COLUMNS
    assert (df["paper"] == "marin2019").all()
    assert set(df["metric"]) <= set(METRICS)
    assert set(df["method"]) == {"edge_based", "uniform"}
    assert df["value"].between(0, 1).all()
    assert not df.duplicated(["source", "dataset", "method", "model", "height", "metric", "class_name"]).any()
    assert set(df["source"]) == {"Table 2", "Table 3", "Table 4", "Table 5"}
    # 10 rows x 24 numbers, 6 x 2 backbones, 8 x 2, 10 x 3
    assert df.groupby("source").size().to_dict() == {"Table 2": 240, "Table 3": 12, "Table 4": 16, "Table 5": 30}


def test_spot_values_and_internal_consistency():
    df = pd.read_csv(CSV)
    t4 = df[(df["source"] == "Table 4") & (df["height"] == 32)].set_index(["method", "metric"])
    assert t4.loc[("edge_based", "miou_target"), "value"] == 0.61
    assert t4.loc[("uniform", "miou"), "value"] == 0.65 and t4.loc[("uniform", "miou"), "gflops"] == 0.31
    t2 = df[df["source"] == "Table 2"]
    for (method, h), rows in t2.groupby(["method", "height"]):
        per_class = rows[rows["metric"] == "iou"].set_index("class_name")["value"]
        target = [f"col{k:02d}" for k in (5, 17, 18, 19, 20, 21, 22, 23)]
        printed = rows[rows["metric"] == "miou_target"]["value"].item()
        assert abs(per_class[target].mean() - printed) <= 0.006, (method, h)
    # the paper's claim: edge-based beats uniform on target classes at every resolution (Table 2)
    tgt = t2[t2["metric"] == "miou_target"].pivot(index="height", columns="method", values="value")
    assert (tgt["edge_based"] > tgt["uniform"]).all()
    assert np.isclose(df[(df["source"] == "Table 5") & (df["class_name"] == "person") & (df["height"] == 16)
                         & (df["method"] == "edge_based")]["value"].item(), 0.62)
