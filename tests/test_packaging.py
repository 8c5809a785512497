"""pyproject.toml and environment.yml are two doors to one dependency list."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_reqs = [r for r in conda_pip if not r.startswith("-e")]
    assert sorted(map(_name, pip_reqs)) == sorted(map(_name, conda_reqs))
    # same version floors too
    floors = {_name(r): r.replace(" ", "") for r in pip_reqs}
    for r in conda_reqs:
        assert floors[_name(r)] == r.replace(" ", ""), r


def test_console_script_and_module_entry_agree():
    out = subprocess.run([sys.executable, "-m", "benchmark", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "make-data" in out.stdout
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["dsbench"] == "benchmark.cli:main"
