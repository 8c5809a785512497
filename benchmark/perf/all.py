"""Imports every perf benchmark module so that each registers itself in ``PERF``: the harness's
own (``benchmark/perf/*.py``) and each method family's ``perf`` module, where it has one."""
import importlib
import importlib.util
import pkgutil

import benchmark.perf as _perf
import methods as _methods

for _info in pkgutil.iter_modules(_perf.__path__):
    if _info.name != "all":
        importlib.import_module(f"benchmark.perf.{_info.name}")
for _info in pkgutil.iter_modules(_methods.__path__):
    if _info.ispkg and importlib.util.find_spec(f"methods.{_info.name}.perf") is not None:
        importlib.import_module(f"methods.{_info.name}.perf")
