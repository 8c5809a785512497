"""The one error type users see: a single line naming the file or key and the fix."""
from __future__ import annotations

import errno
import os


class DsbenchError(Exception):
    """User-facing error. The CLI prints ``error: <message>`` on one line and exits 2."""

    def __init__(self, message: str):
        # One line always: a traceback-free message that names the culprit and the fix.
        super().__init__(" ".join(str(message).split()))


def cannot_write(path: object, error: OSError) -> DsbenchError:
    """``cannot write PATH: REASON`` for a write the operating system refused (full disk,
    read-only folder, a regular file where a folder should be, no permission)."""
    if isinstance(error, FileExistsError):
        # mkdir(exist_ok=True) says "File exists" when a regular file stands where a folder must be.
        error = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), error.filename)
    reason = error.strerror or str(error) or error.__class__.__name__
    # Name the part of the path the OS refused when it is not the file itself (e.g. its folder).
    if error.filename is not None and str(error.filename) != str(path):
        reason += f" ({error.filename})"
    return DsbenchError(f"cannot write {path}: {reason}" if path else f"cannot write: {reason}")
