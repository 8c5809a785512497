"""Start-up costs of the DAG's processes. Loading the registries (what every Snakemake start does to
check the config's names) does not import timm, nor the torchvision and torch._dynamo that timm
pulls in (about 3 s a start); building an encoder does. CPU seeding does not import the compiler."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import methods
from benchmark.data import DATASETS
from benchmark.models import MODELS, build_model
from benchmark.registry import SUPERPIXEL_METHODS
from benchmark.tracks import find_method
find_method("uniform"); MODELS.get("unet"); SUPERPIXEL_METHODS.get("slic"); DATASETS.get("synthcity")
print(sorted(m for m in ("timm", "torchvision", "torch._dynamo") if m in sys.modules))
build_model("unet", num_classes=3, encoder="resnet10t")
print("timm" in sys.modules)
"""


def test_registries_load_without_timm_and_an_encoder_brings_it():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:2] == ["[]", "True"]


DETERMINISM_PROBE = """
import sys, torch
from benchmark.engine.device import seed_everything
seed_everything(0, torch.device("cpu"))
print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
      "torch._inductor.config" in sys.modules)
"""


def test_cpu_seeding_sets_the_deterministic_kernels_without_importing_the_compiler():
    """As ``torch.use_deterministic_algorithms(True, warn_only=True)`` sets them, minus its 2.5 s import
    of torch._inductor.config."""
    proc = subprocess.run([sys.executable, "-c", DETERMINISM_PROBE], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True", "False"]
