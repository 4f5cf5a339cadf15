"""The README's Quickstart, line by line, as written, in a fresh clone: the checkout's files (what
git would clone, uncommitted new files included) copied to a new folder, with the shared data
and vectors beside it as on the project's machines, and nothing downloaded or cached before."""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
BANKS = SHARED / "data/sentirueval2016/bank_train_2016.xml"
NAVEC = "navec_news_v1_1B_250K_300d_100q.tar"
LABELS = {"-1", "0", "1"}


def quickstart_lines() -> list[str]:
    """The commands of the README's Quickstart block (its indented code lines)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def fresh_clone(destination: Path) -> Path:
    """The checkout's tracked and not-ignored files, copied as a clone would have them."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def what_is_missing() -> str | None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return "not a git checkout"
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix) or not (venv / "bin/activate").is_file() or not (venv / "bin/sentinet").is_file():
        return "pytest does not run from a virtualenv with sentinet installed (make install)"
    if not BANKS.is_file():
        return f"{BANKS} is absent (the shared SentiRuEval-2016 data)"
    from sentinet.downloads.fetch import packaged_vectors
    if not (SHARED / "embeddings" / NAVEC).is_file() and packaged_vectors(NAVEC) is None:
        return f"the navec vectors are neither in {SHARED / 'embeddings'} nor installed (the ru extra)"
    return None


def test_the_quickstart_runs_line_by_line_in_a_fresh_clone(tmp_path):
    missing = what_is_missing()
    if missing:
        pytest.skip(missing)
    clone = fresh_clone(tmp_path / "sentinet")
    (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)  # ../shared, as beside ROOT
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)  # what `make install` made
    env = {**os.environ, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(clone),  # the clone's sentinet, so data/ and ../shared are the clone's
           "SENTINET_CACHE": str(tmp_path / "cache")}  # a fresh machine: no checksum stamps yet
    for name in ("SENTINET_DATA", "SENTINET_VECTORS", "SENTINET_MIRROR"):
        env.pop(name, None)  # XDG_DATA_HOME stays the suite's private, empty one (conftest.py)

    imported = subprocess.run([sys.executable, "-c", "import sentinet; print(sentinet.__file__)"], cwd=clone,
                              env=env, capture_output=True, text=True, check=True).stdout
    assert Path(imported.strip()).is_relative_to(clone)  # the clone's code runs, not the checkout's

    lines = quickstart_lines()
    done = set()
    for line in lines:
        command = line
        words = shlex.split(line, comments=True)
        if words[:2] == ["sentinet", "train"] and "--dry-run" not in words:
            # CI time: one epoch instead of the config's 15; the line is otherwise run as written.
            command = shlex.join([*words, "--set", "train.epochs=1"])
        result = subprocess.run(["bash", "-c", f"set -eo pipefail\n{command}"], cwd=clone, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        out = result.stdout

        if words[0] == "source":
            done.add("activate")
        elif words[:2] == ["sentinet", "fetch"]:
            assert "data.train: found" in out and "vectors.path: found" in out, out
            done.add("fetch")
        elif words[:2] == ["sentinet", "train"] and "--dry-run" in words:
            assert "dry run: config, data and vectors are fine" in out, out
            assert not (clone / "runs").exists()  # "writes nothing"
            done.add("dry-run")
        elif words[:2] == ["sentinet", "train"]:
            run = clone / words[words.index("--run-dir") + 1]
            assert (run / "model.pt").is_file() and "best epoch 1: dev F-macro" in out, out
            done.add("train")
        elif words[:2] == ["sentinet", "eval"]:
            data = clone / words[3]
            count = len(data.read_text(encoding="utf-8").splitlines()) - 1  # less the header
            assert f"{count} scored texts" in out and re.search(r"F-macro 0\.\d{4}", out), out
            done.add("eval")
        elif words[:2] == ["sentinet", "predict"] and "-o" in words:
            texts = (clone / words[3]).read_text(encoding="utf-8").splitlines()
            with open(clone / words[words.index("-o") + 1], encoding="utf-8", newline="") as file:
                rows = list(csv.DictReader(file))
            assert [row["id"] for row in rows] == [str(i) for i in range(1, len(texts) + 1)]
            assert {row["label"] for row in rows} <= LABELS
            done.add("predict")
        elif "| sentinet predict" in line:
            header, row = out.splitlines()
            assert header.startswith("id,label,") and row.split(",")[1] in LABELS, out
            done.add("predict stdin")
        else:
            pytest.fail(f"a Quickstart line this test does not know how to check: {line}")
    assert done == {"activate", "fetch", "dry-run", "train", "eval", "predict", "predict stdin"}, lines
