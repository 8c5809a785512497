"""Paper figures and tables, made from stored tidy rows alone (never torch, never a method).

Importing this package registers every ``fig_*.py`` / ``table_*.py`` module in
:data:`benchmark.registry.FIGURES`: each registers ``make(df)`` returning a
:class:`matplotlib.figure.Figure` (figures) or ``dict(markdown=str, latex=str)`` (tables).
:func:`paper_figures.build.build_all` writes them all.
"""
import importlib
import pkgutil

from benchmark.registry import FIGURES


def _import_all() -> None:
    # One module per output; each registers itself with @FIGURES.register.
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(("fig_", "table_")):
            importlib.import_module(f"{__name__}.{info.name}")


_import_all()

__all__ = ["FIGURES"]
