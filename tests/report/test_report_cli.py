"""`dsbench report`: bad claims are one-line errors (exit 2, nothing written); the report of the
committed ci reference rows is built with torch blocked."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.cli import main

from report_helpers import claim_text, write_claims

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference" / "ci.csv"


def run_report(tmp_path, claims, metrics=REFERENCE, *extra):
    return main(["report", "--metrics", str(metrics), "--claims", str(claims), "--out", str(tmp_path / "out"),
                 "--resamples", "20", *extra])


@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace('direction: ">"', 'direction: ">>"'), "key 'direction'"),
    (lambda t: t.replace("paper: marin2019", "paper: nobody2020"), "key 'paper'"),
    (lambda t: t.replace("  rule: the interval decides\n", ""), "key 'rule'"),
    (lambda t: t.replace("where: Table 2", "where: Table 2\n  colour: red"), "key 'colour'"),
    (lambda t: t.replace("treatment: {method: better}", "treatment: {methd: better}"), "key 'treatment.methd'"),
    (lambda t: t.replace('direction: ">"', 'direction: "~"'), "key 'margin'"),
    (lambda t: t.replace("select: {dataset: toy, metric: miou}", "select: {metric: miou}"), "key 'select.dataset'"),
    (lambda t: t + t, "key 'id': is given twice"),
])
def test_bad_claims_are_one_line_errors_naming_file_claim_and_key(tmp_path, capsys, edit, key):
    claims = write_claims(tmp_path / "claims.yaml", edit(claim_text(id="my_claim")))
    assert run_report(tmp_path, claims) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {claims}: claim 'my_claim' {key}")
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_unreadable_yaml_and_missing_inputs(tmp_path, capsys):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  - id: [unclosed\n")
    assert run_report(tmp_path, bad) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not valid YAML")
    assert run_report(tmp_path, tmp_path / "none.yaml") == 2
    assert "no such claims file" in capsys.readouterr().err
    good = write_claims(tmp_path / "good.yaml", claim_text())
    assert run_report(tmp_path, good, tmp_path / "missing.csv") == 2
    assert "no such metrics file" in capsys.readouterr().err
    assert run_report(tmp_path, good, REFERENCE, "--runs", str(tmp_path / "nowhere")) == 2
    assert "--runs" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_the_report_of_the_ci_reference_never_imports_torch(tmp_path):
    out = tmp_path / "report"
    code = textwrap.dedent(f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "timm", "methods"):
                    raise ImportError(f"{{name}} is blocked")

        sys.meta_path.insert(0, Block())
        from benchmark.cli import main
        rc = main(["report", "--metrics", {str(REFERENCE)!r}, "--claims", {str(ROOT / "results" / "claims.yaml")!r},
                   "--out", {str(out)!r}, "--resamples", "50"])
        assert rc == 0, rc
        heavy = sorted(m for m in ("torch", "timm", "methods", "benchmark.ops.sampling") if m in sys.modules)
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import pandas as pd

    verdicts = pd.read_csv(out / "verdicts.csv")
    assert list(verdicts.columns[:4]) == ["claim", "paper", "dataset", "scope"]
    assert set(verdicts["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}
    aerial = verdicts[verdicts["claim"] == "jin_deformation_gt_edge_aerial"]
    assert aerial["reason"].tolist() == ["no rows for dataset synthaerial"]
    batch = verdicts[verdicts["claim"] == "alcover_batch_robust"]
    assert batch["verdict"].tolist() == ["inconclusive"] and "alcover_fig7_batch" in batch["reason"].iloc[0]
    html = (out / "index.html").read_text()
    assert "<style>" in html and "http" not in html.replace("http-equiv", "")  # self-contained
    for paper in ("marin2019", "jin2022", "alcover2023", "suzuki2021", "wang2022"):
        assert f'id="{paper}"' in html
    assert "## Marin et al. 2019" in (out / "REPORT.md").read_text()
