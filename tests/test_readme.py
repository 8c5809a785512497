"""The README tells the truth where it restates the shipped config."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIG = yaml.safe_load((ROOT / "workflows/config.yaml").read_text())
EXPERIMENTS_HEADER = "| experiment | what | runs | figures |"


def markdown_table(text: str, header: str):
    """The body rows (lists of cell texts) of the Markdown table that starts with ``header``."""
    assert text.count(header) == 1, f"the README should have one table starting {header!r}"
    lines = text[text.index(header):].splitlines()[2:]  # past the header and the --- line
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_readme_lists_every_experiment_with_the_folders_it_writes():
    documented = {row[0].strip("`"): (row[2].strip("`"), row[3].strip("`"))
                  for row in markdown_table(README, EXPERIMENTS_HEADER)}
    shipped = {name: (f"{entry['runs_dir']}/", f"{entry['figures_dir']}/")
               for name, entry in CONFIG["experiments"].items()}
    assert documented == shipped
