"""Small C kernels, built with the system C compiler at first use and called through ctypes.

Why not a torch C++ extension: compiling against torch's headers takes minutes on a 2-core
machine and needs torch at build time; these kernels only see raw buffers, so a plain C file
builds in well under a second with ``cc`` and no Python or torch headers. The shared library is
cached per source hash (``$DSBENCH_NATIVE_CACHE``, else ``$XDG_CACHE_HOME/dsbench/native``, else
``~/.cache/dsbench/native``) and written atomically, so concurrent first uses (Snakemake jobs,
test workers) are safe. ctypes releases the GIL during a call, so callers split work over
Python threads (:func:`parallel_map`).

Without a working compiler (or with ``DSBENCH_NATIVE=0``) :func:`load` returns ``None`` after one
warning saying why, and callers use their pure-torch path: same results, slower.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, TypeVar

SOURCE_DIR = Path(__file__).resolve().parent
CFLAGS = ("-O3", "-std=c99", "-fPIC", "-shared")

_lock = threading.Lock()
_loaded: Dict[str, Optional[ctypes.CDLL]] = {}
_pool: Optional[ThreadPoolExecutor] = None
_pool_size = 0

T = TypeVar("T")


def _forget_pool_in_child() -> None:
    # A forked child (e.g. a DataLoader worker) inherits the pool object but not its threads.
    global _pool, _pool_size
    _pool, _pool_size = None, 0


os.register_at_fork(after_in_child=_forget_pool_in_child)


def cache_dir() -> Path:
    explicit = os.environ.get("DSBENCH_NATIVE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dsbench" / "native"


def enabled() -> bool:
    return os.environ.get("DSBENCH_NATIVE", "1") != "0"


def _compiler() -> Optional[str]:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _library_path(name: str, source: bytes, compiler: str) -> Path:
    key = hashlib.sha256(source + " ".join(CFLAGS).encode() + compiler.encode()
                         + platform.machine().encode() + sys.platform.encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-{key}.so"


def _build(name: str) -> ctypes.CDLL:
    source_path = SOURCE_DIR / f"{name}.c"
    source = source_path.read_bytes()
    compiler = _compiler()
    if compiler is None:
        raise OSError("no C compiler found (set CC, or install gcc)")
    target = _library_path(name, source, compiler)
    if not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        except OSError:  # a read-only home (some clusters): build per machine in the temp dir
            target = Path(tempfile.gettempdir()) / "dsbench-native" / target.name
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            done = subprocess.run([compiler, *CFLAGS, "-o", tmp, str(source_path), "-lm"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise OSError(f"{compiler} failed on {source_path}: {last}")
            os.replace(tmp, target)  # atomic: a concurrent builder wrote the same bytes
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return ctypes.CDLL(str(target))


def load(name: str) -> Optional[ctypes.CDLL]:
    """The compiled ``benchmark/native/NAME.c``, or ``None`` (disabled, or it could not be built:
    one warning per process says why)."""
    with _lock:
        if name not in _loaded:
            library = None
            if enabled():
                try:
                    library = _build(name)
                except OSError as error:
                    warnings.warn(f"dsbench: native kernel {name!r} unavailable ({error}); using the slower "
                                  "pure-torch path", RuntimeWarning, stacklevel=2)
            _loaded[name] = library
        return _loaded[name]


def parallel_map(fn: Callable[[T], int], tasks: Iterable[T], threads: int) -> List[int]:
    """``fn`` over ``tasks`` on up to ``threads`` Python threads (ctypes calls release the GIL);
    results in task order."""
    tasks = list(tasks)
    if threads <= 1 or len(tasks) <= 1:
        return [fn(task) for task in tasks]
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < threads:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dsbench-native"), threads
        pool = _pool
    return list(pool.map(fn, tasks))
