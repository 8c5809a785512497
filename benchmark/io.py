"""Writing files: atomically, with the umask's permissions, and Markdown tables.

Every result, checkpoint, image, figure and table in the suite is written through
:func:`atomic_write`. Nothing here imports torch.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from benchmark.errors import DsbenchError, cannot_write

# Less free space than this after a failed write: the write failed because the disk is full.
DISK_FULL_BYTES = 1 << 20


def _umask_mode() -> int:
    # mkstemp creates 0600 files; a collaborator on shared storage expects the umask's mode.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: os.PathLike, write: Callable[[str], Any], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place:
    readers never see half a file, and a failed write leaves nothing behind. ``suffix`` keeps
    the extension for writers that choose the format from it (matplotlib). The file gets the
    mode a plain ``open(path, "w")`` would give (0666 less the umask).

    A write the operating system refuses (full disk, read-only folder, a regular file where a
    folder should be) raises :class:`DsbenchError` ``cannot write PATH: REASON``; so does a
    writer's own error when it left the disk full (``torch.save`` raises a RuntimeError then)."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        # Measured before the temporary file goes: removing it frees the space it filled.
        disk_full = tmp is not None and _disk_full(path.parent)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, DsbenchError) or not isinstance(exc, Exception):  # already worded; interrupts
            raise
        refused = _os_error(exc)
        if refused is not None:
            raise cannot_write(path, refused) from exc
        if disk_full:
            raise cannot_write(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from exc
        raise
    return path


def _os_error(exc: Optional[BaseException]) -> Optional[OSError]:
    """The OSError ``exc`` is or was explicitly raised from, if any."""
    while exc is not None:
        if isinstance(exc, OSError):
            return exc
        exc = exc.__cause__
    return None


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False


def atomic_write_text(path: os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write(path, write)


def atomic_write_bytes(path: os.PathLike, data: bytes, suffix: str = ".tmp") -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), suffix=suffix)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A GitHub Markdown table; ``align`` is one letter per column (``l``/``r``), default l then r."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(rule)] + [line(r) for r in rows]) + "\n"
