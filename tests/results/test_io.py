"""benchmark.io: atomic writes with the umask's permissions."""
import os
import re

import pytest

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write, atomic_write_text, markdown_table


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_get_the_umask_mode_not_0600(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        reference = tmp_path / "plain.txt"
        reference.write_text("x")  # what open() gives under this umask
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == reference.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "sub" / "metrics.csv"
    atomic_write_text(target, "old")

    def broken(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(DsbenchError, match=re.escape(f"cannot write {target}: No space left on device")):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.csv"]


def test_markdown_table_escapes_pipes_and_aligns():
    text = markdown_table(["a", "b"], [["x|y", 1]])
    assert text.splitlines() == ["| a | b |", "| :--- | ---: |", "| x\\|y | 1 |"]
