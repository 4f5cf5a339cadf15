"""Fixtures shared by the suite: tiny data per test, and trained runs made once per session
for every test that only needs a trained run to look at (copy it before changing it)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# One torch thread per test process, the CLI subprocesses included: `make test` runs two pytest
# workers on a 2-core machine, and two processes of two threads each spin against each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The user data folder (where downloads go and configs look last) is a private empty one, so no
# file a user or `make train` downloaded on this machine changes what a test finds.
_USER_DATA = tempfile.mkdtemp(prefix="sentinet-tests-xdg-")
atexit.register(shutil.rmtree, _USER_DATA, ignore_errors=True)
os.environ["XDG_DATA_HOME"] = _USER_DATA
# The download tests' servers listen on 127.0.0.1: a proxy the machine sets must not stand between.
for _var in ("no_proxy", "NO_PROXY"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var), "127.0.0.1", "localhost"]))

from .helpers import (  # noqa: E402
    FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN, make_corpus, run_cli, sentirueval_xml,
    tiny_config_yaml, write_tiny_data, write_word2vec_text,
)


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict[str, Path]:
    """train.xml (150 tweets), test.xml (with a two-company tweet), vectors.txt, lines.txt."""
    return write_tiny_data(tmp_path)


def _train(root: Path, n: int, dim: int, epochs: int) -> dict[str, Path]:
    data = {"dir": root, "train": root / "train.xml", "vectors": root / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(n, seed=1)), encoding="utf-8")
    words = sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER, *NAMES.values(), *UNSEEN})
    write_word2vec_text(data["vectors"], words, dim=dim)
    config = root / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, epochs=epochs), encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", f"train.patience={epochs}")
    assert result.returncode == 0, result.stderr
    (run,) = (root / "runs").iterdir()
    lines = root / "lines.txt"
    lines.write_text("сбербанк спасибо\nкошмар великолепно\n", encoding="utf-8")  # unseen words
    return {**data, "config": config, "run": run, "lines": lines}


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> dict[str, Path]:
    """A GRU trained for one epoch on 90 tweets (8-dim vectors): for tests of what commands do
    with a run, not of what it learned. Keys: run, config, train, vectors, lines, dir."""
    return _train(tmp_path_factory.mktemp("quick"), n=90, dim=8, epochs=1)


@pytest.fixture(scope="session")
def learned_run(tmp_path_factory) -> dict[str, Path]:
    """A GRU trained for six epochs on 150 tweets (16-dim vectors): it has learned the tiny
    corpus, so its labels can be asserted."""
    return _train(tmp_path_factory.mktemp("learned"), n=150, dim=16, epochs=6)


@pytest.fixture
def run_copy(quick_run, tmp_path) -> Path:
    """A private copy of the quick run that a test may tamper with."""
    return Path(shutil.copytree(quick_run["run"], tmp_path / "run"))
