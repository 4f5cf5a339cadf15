"""Outputs that are not plain files (issue 19, item 1): a device, a FIFO or /dev/stdout is
written in place and stays what it is; a symlink is written through (the link stays, the file
it names gets the output). Device nodes and the /dev/stdout link are made in the test's own
folder, never the machine's /dev, so a regression cannot break the machine (an earlier
version of this file, run against the old code, replaced the machine's /dev/stdout)."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..helpers import assert_one_line_error, run_cli

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def predict_to(quick_run, output: Path, **popen):
    return run_cli("predict", str(quick_run["run"]), str(quick_run["lines"]), "-o", str(output), **popen)


@needs_root
def test_a_null_device_stays_a_device(quick_run, tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = predict_to(quick_run, null)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert "replaced" not in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temp file left beside it


@needs_root
def test_a_full_device_is_one_line_and_stays_a_device(quick_run, tmp_path):
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    assert_one_line_error(predict_to(quick_run, full), f"{full}: cannot write", "No space left")
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_is_written_into(quick_run, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    result = predict_to(quick_run, fifo)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and got[0].splitlines()[0].startswith("id,label,p_negative")
    assert len(got[0].splitlines()) == 3  # header + two predictions


def stdout_link(tmp_path: Path) -> Path:
    """What /dev/stdout is (a symlink to /proc/self/fd/1), made in the test's folder: a
    regression then replaces this link, never the machine's own /dev/stdout."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    return link


def test_a_link_to_proc_self_fd_1_goes_to_standard_output(quick_run, tmp_path):
    link = stdout_link(tmp_path)
    result = predict_to(quick_run, link)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("id,label,p_negative")
    assert "replaced" not in result.stderr and os.readlink(link) == "/proc/self/fd/1"


def test_standard_output_redirected_to_a_file_is_appended_to(quick_run, tmp_path):
    link, log = stdout_link(tmp_path), tmp_path / "log.txt"
    log.write_text("kept\n", encoding="utf-8")
    with open(log, "a") as out:
        result = subprocess.run([sys.executable, "-m", "sentinet", "predict", str(quick_run["run"]),
                                 str(quick_run["lines"]), "-o", str(link)],
                                stdout=out, stderr=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "kept" and lines[1].startswith("id,label") and len(lines) == 4
    assert os.readlink(link) == "/proc/self/fd/1"


def test_a_symlink_is_written_through(quick_run, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = predict_to(quick_run, link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8").startswith("id,label")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_a_dangling_symlink_into_a_missing_folder_is_one_line(quick_run, tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "missing" / "x.csv")
    assert_one_line_error(predict_to(quick_run, link), "link.csv: a symlink to", "does not exist")
    assert not (tmp_path / "missing").exists()


def test_predict_top_k_writes_the_most_probable_classes(quick_run):
    full = run_cli("predict", str(quick_run["run"]), str(quick_run["lines"]), "--threads", "1")
    top = run_cli("predict", str(quick_run["run"]), str(quick_run["lines"]), "-k", "2")
    assert full.returncode == 0 and top.returncode == 0, full.stderr + top.stderr
    assert top.stdout.splitlines()[0] == "id,label,label_1,p_1,label_2,p_2"
    names = {"negative": "-1", "neutral": "0", "positive": "1"}
    for whole, best in zip(csv.DictReader(io.StringIO(full.stdout)), csv.DictReader(io.StringIO(top.stdout))):
        ranked = sorted(names, key=lambda n: -float(whole[f"p_{n}"]))
        assert [best["label_1"], best["label_2"]] == [names[ranked[0]], names[ranked[1]]]
        assert best["p_1"] == whole[f"p_{ranked[0]}"] and best["label"] == whole["label"]
    wide = run_cli("predict", str(quick_run["run"]), str(quick_run["lines"]), "-k", "9", "--format", "jsonl")
    assert set(json.loads(wide.stdout.splitlines()[0])) == {"id", "label", "label_1", "p_1", "label_2", "p_2",
                                                              "label_3", "p_3"}  # no more than the classes
