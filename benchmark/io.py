"""Writing files: atomically, with the umask's permissions, and Markdown tables.

Every result, checkpoint, image, figure and table in the suite is written through
:func:`atomic_write`. Nothing here imports torch.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence


def _umask_mode() -> int:
    # mkstemp creates 0600 files; a collaborator on shared storage expects the umask's mode.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: os.PathLike, write: Callable[[str], Any], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place:
    readers never see half a file, and a failed write leaves nothing behind. ``suffix`` keeps
    the extension for writers that choose the format from it (matplotlib). The file gets the
    mode a plain ``open(path, "w")`` would give (0666 less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            fh.write(text)

    atomic_write(path, write)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A GitHub Markdown table; ``align`` is one letter per column (``l``/``r``), default l then r."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(rule)] + [line(r) for r in rows]) + "\n"
