"""Paper figures and tables, made from stored tidy rows alone (never torch, never a method).

Layout: one subpackage per paper (``marin``, ``jin``, ``alcover``, ``suzuki``) and ``common`` for the
cross-paper outputs (cost curves, trimap, results table). In each, a ``fig_*.py`` / ``table_*.py``
module registers one output in :data:`benchmark.registry.FIGURES` (``make(df)`` returns a
:class:`matplotlib.figure.Figure` or ``dict(markdown=str, latex=str)``); ``shared.py`` holds the
subpackage's conventions. A figure imports only :mod:`paper_figures.style` (palette, panels,
tables), :mod:`paper_figures.rows` (the row schema), :mod:`paper_figures.reported` and its own
subpackage's ``shared`` module: never another figure (a test checks it).

An output module that sets ``EXPERIMENT = "<name>"`` belongs to that experiment of
``workflows/config.yaml``: it is built by the experiment's DAG run into the experiment's
``figures_dir``, never into the default figures (:func:`figure_ids`).
"""
import importlib
import pkgutil
from typing import Dict, List

from benchmark.registry import FIGURES

SUBPACKAGES = ("common", "marin", "jin", "alcover", "suzuki", "superpixels")  # superpixels: that track (PCNet, Suzuki)
# figure id -> the experiment whose runs it shows (filled on import from the modules' EXPERIMENT).
EXPERIMENT_OF: Dict[str, str] = {}


def _import_all() -> None:
    for package in SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{package}")
        for info in pkgutil.iter_modules(module.__path__):
            if not info.name.startswith(("fig_", "table_")):
                continue
            before = set(FIGURES.keys())
            output = importlib.import_module(f"{module.__name__}.{info.name}")
            experiment = getattr(output, "EXPERIMENT", "")
            for key in set(FIGURES.keys()) - before:
                if experiment:
                    EXPERIMENT_OF[key] = experiment


def figure_ids(experiment: str = "") -> List[str]:
    """The ids a DAG run builds: the default figures, plus those of ``experiment`` if given."""
    # A default figure (no experiment) matches any run; an experiment's figure only its own.
    return [key for key in FIGURES.keys() if EXPERIMENT_OF.get(key, experiment) == experiment]


_import_all()

__all__ = ["EXPERIMENT_OF", "FIGURES", "figure_ids"]
