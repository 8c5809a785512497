"""Downsampling methods. Importing this package registers every method in ``METHODS``."""
import importlib
import pkgutil

from benchmark.registry import METHODS


def _import_all() -> None:
    # One file per method family; each registers itself with @METHODS.register.
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_all()

__all__ = ["METHODS"]
