"""Small C kernels, built with the system C compiler at first use and called through ctypes.

Why not a torch C++ extension: compiling against torch's headers takes minutes on a 2-core
machine and needs torch at build time; these kernels only see raw buffers, so a plain C file
builds in well under a second with ``cc`` and no Python or torch headers. The shared library is
cached per source hash (``$DSBENCH_NATIVE_CACHE``, else ``$XDG_CACHE_HOME/dsbench/native``, else
``~/.cache/dsbench/native``) and written atomically, so concurrent first uses (Snakemake jobs,
test workers) are safe. A library is only loaded from a folder, and a file, that no other user
can write (:func:`build_dir`); otherwise, and when the cache cannot be written, it is built in a
private temporary folder of the process (mode 0700, removed at exit). ctypes releases the GIL
during a call, so callers split work over Python threads (:func:`parallel_map`).

Without a working compiler (or with ``DSBENCH_NATIVE=0``) :func:`load` returns ``None`` after one
warning saying why, and callers use their pure-torch path: same results, slower.
"""
from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import platform
import shutil
import stat
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
_private_dir: Optional[Path] = None  # this process's fallback build folder
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
    """The configured cache folder (see the module docstring); :func:`build_dir` decides whether it is used."""
    explicit = os.environ.get("DSBENCH_NATIVE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dsbench" / "native"


def only_owner_writes(path: Path) -> bool:
    """Whether nobody but this user can change ``path``: owned by this user, no group or other
    write bit. A library loaded from anywhere else runs whatever another user put there."""
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def private_temp_dir() -> Path:
    """A folder of this process's own (mode 0700, made by ``tempfile.mkdtemp``, removed at exit):
    the fallback when the cache folder cannot be written or is not private."""
    global _private_dir
    if _private_dir is None or not _private_dir.is_dir():
        _private_dir = Path(tempfile.mkdtemp(prefix="dsbench-native-"))
        atexit.register(shutil.rmtree, _private_dir, True)  # a loaded library may be unlinked (Linux)
    return _private_dir


def build_dir() -> Path:
    """Where libraries are built and loaded from: :func:`cache_dir` (created mode 0700) when only
    this user can write it, else :func:`private_temp_dir` (a read-only home on some clusters, or
    a folder other users can write: one warning says how to fix it)."""
    folder = cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if only_owner_writes(folder):
            return folder
    except OSError:  # cannot be created: build per process in a private temporary folder
        return private_temp_dir()
    warnings.warn(f"dsbench: native kernel cache {folder} can be written by other users (or is not yours), so "
                  f"no library is loaded from it; building in a private temporary folder instead "
                  f"(fix: chmod go-w {folder}, or set DSBENCH_NATIVE_CACHE to a folder of your own)",
                  RuntimeWarning, stacklevel=4)
    return private_temp_dir()


def enabled() -> bool:
    return os.environ.get("DSBENCH_NATIVE", "1") != "0"


def _compiler() -> Optional[str]:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _library_name(name: str, source: bytes, compiler: str) -> str:
    key = hashlib.sha256(source + " ".join(CFLAGS).encode() + compiler.encode()
                         + platform.machine().encode() + sys.platform.encode()).hexdigest()[:16]
    return f"{name}-{key}.so"


def _build(name: str) -> ctypes.CDLL:
    source_path = SOURCE_DIR / f"{name}.c"
    source = source_path.read_bytes()
    compiler = _compiler()
    if compiler is None:
        raise OSError("no C compiler found (set CC, or install gcc)")
    target = build_dir() / _library_name(name, source, compiler)
    if target.exists() and not only_owner_writes(target):  # someone else's file: never load it
        target = private_temp_dir() / target.name
    if not target.exists() and not os.access(target.parent, os.W_OK):  # a read-only cache someone filled
        target = private_temp_dir() / target.name
    if not target.exists():
        _compile(compiler, source_path, target)
    return ctypes.CDLL(str(target))


def _compile(compiler: str, source_path: Path, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run([compiler, *CFLAGS, "-o", tmp, str(source_path), "-lm"], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise OSError(f"{compiler} failed on {source_path}: {last}")
        os.chmod(tmp, 0o755)  # never the umask's group write bit: only_owner_writes must accept the file
        os.replace(tmp, target)  # atomic: a concurrent builder wrote the same bytes
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
