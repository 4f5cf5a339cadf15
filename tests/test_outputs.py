"""Outputs that are not plain files (issue 19, item 1): a device, a FIFO or /dev/stdout is
written in place and stays what it is; a symlink is written through (the link stays, the file
it names gets the output). Device nodes are made with mknod in the test's own folder, never
the machine's /dev/null, so a regression cannot break the machine."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .test_hostile import assert_one_line_error, run_cli, workspace  # noqa: F401 (fixture)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def predict_to(workspace, output: Path, **popen):  # noqa: F811
    return run_cli("predict", str(workspace["run"]), str(workspace["lines"]), "-o", str(output), **popen)


@needs_root
def test_a_null_device_stays_a_device(workspace, tmp_path):  # noqa: F811
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = predict_to(workspace, null)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert "replaced" not in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temp file left beside it


@needs_root
def test_a_full_device_is_one_line_and_stays_a_device(workspace, tmp_path):  # noqa: F811
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    assert_one_line_error(predict_to(workspace, full), f"{full}: cannot write", "No space left")
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_is_written_into(workspace, tmp_path):  # noqa: F811
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    result = predict_to(workspace, fifo)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and got[0].splitlines()[0].startswith("id,label,p_negative")
    assert len(got[0].splitlines()) == 3  # header + two predictions


def test_dev_stdout_goes_to_standard_output(workspace):  # noqa: F811
    result = predict_to(workspace, Path("/dev/stdout"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("id,label,p_negative")
    assert "replaced" not in result.stderr


def test_dev_stdout_redirected_to_a_file_appends(workspace, tmp_path):  # noqa: F811
    log = tmp_path / "log.txt"
    log.write_text("kept\n", encoding="utf-8")
    with open(log, "a") as out:
        result = subprocess.run([sys.executable, "-m", "sentinet", "predict", str(workspace["run"]),
                                 str(workspace["lines"]), "-o", "/dev/stdout"],
                                stdout=out, stderr=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "kept" and lines[1].startswith("id,label") and len(lines) == 4


def test_a_symlink_is_written_through(workspace, tmp_path):  # noqa: F811
    real = tmp_path / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = predict_to(workspace, link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8").startswith("id,label")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_a_dangling_symlink_into_a_missing_folder_is_one_line(workspace, tmp_path):  # noqa: F811
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "missing" / "x.csv")
    assert_one_line_error(predict_to(workspace, link), "link.csv: a symlink to", "does not exist")
    assert not (tmp_path / "missing").exists()
