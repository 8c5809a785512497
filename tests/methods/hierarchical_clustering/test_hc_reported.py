"""results/reported/suzuki2021.csv: Suzuki's tables are self-consistent as transcribed."""
import pytest

from paper_figures.reported import load_reported


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
