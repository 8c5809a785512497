"""results/reported/jin2022.csv follows the reported-numbers schema and holds the paper's numbers."""
from pathlib import Path

import pandas as pd

from benchmark.results import METRICS
from paper_figures.reported import REPORTED_COLUMNS

CSV = Path(__file__).resolve().parents[3] / "results" / "reported" / "jin2022.csv"


def test_schema_and_ranges():
    df = pd.read_csv(CSV)
    assert list(df.columns) == REPORTED_COLUMNS
    assert (df["paper"] == "jin2022").all()
    assert set(df["metric"]) <= set(METRICS)
    assert df["value"].between(0, 1).all() and not df.duplicated(["source", "dataset", "method", "height",
                                                                  "width", "metric", "setting"]).any()
    assert {"Table 2", "Table 3", "Table 4", "Table 5", "Table 6", "Table 8", "Fig 9a"} == set(df["source"])


def test_spot_values():
    df = pd.read_csv(CSV)
    fig = df[(df["source"] == "Fig 9a") & (df["height"] == 64)].set_index("method")["value"]
    assert fig.to_dict() == {"uniform": 0.29, "deformation": 0.36, "edge_based": 0.32, "interpolation": 0.29}
    t8 = df[(df["source"] == "Table 8") & (df["dataset"] == "cityscapes")].set_index("height")["value"]
    # Table 8's fractions are h*w / (1024*2048) rounded to one or two significant digits.
    for h, frac in t8.items():
        exact = h * 2 * h / (1024 * 2048)
        assert frac in (float(f"{exact:.1g}"), float(f"{exact:.2g}"))
