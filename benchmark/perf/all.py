"""Imports every perf benchmark module so that each registers itself in ``PERF``."""
import importlib
import pkgutil

import benchmark.perf as _perf

for _info in pkgutil.iter_modules(_perf.__path__):
    if _info.name != "all":
        importlib.import_module(f"benchmark.perf.{_info.name}")
