"""`sentinet export`: an archive that predicts like the run on a machine without its vectors,
and that cannot write outside the folder it is unpacked into."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .conftest import FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN
from .conftest import make_corpus, sentirueval_xml, tiny_config_yaml, write_word2vec_text
from .test_hostile import assert_one_line_error


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinet", *args], capture_output=True, text=True, timeout=300)


def rows(output: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(output)))


def test_export_predicts_like_the_run_without_the_vectors_file(tmp_path):
    data = {"dir": tmp_path, "train": tmp_path / "train.xml", "vectors": tmp_path / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(150, seed=1)), encoding="utf-8")
    write_word2vec_text(data["vectors"], sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER,
                                                 *NAMES.values(), *UNSEEN}), dim=16)
    config = tmp_path / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, epochs=6), encoding="utf-8")
    assert run_cli("train", "--config", str(config), "--set", "train.patience=6").returncode == 0
    (run,) = (tmp_path / "runs").iterdir()
    lines = tmp_path / "lines.txt"
    lines.write_text("сбербанк спасибо\nкошмар\nвеликолепно\n", encoding="utf-8")  # two unseen words
    before = run_cli("predict", str(run), str(lines))
    assert before.returncode == 0, before.stderr

    archive = tmp_path / "model.tar.gz"
    result = run_cli("export", str(run), str(archive))
    assert result.returncode == 0, result.stderr
    data["vectors"].unlink()  # another machine: the vectors file is not there
    moved = tmp_path / "elsewhere.tar.gz"
    shutil.move(archive, moved)
    after = run_cli("predict", str(moved), str(lines))
    assert after.returncode == 0, after.stderr
    assert "warning" not in after.stderr  # unseen words found their vectors in the archive
    assert [r["label"] for r in rows(after.stdout)] == [r["label"] for r in rows(before.stdout)] == ["1", "-1", "1"]
    for a, b in zip(rows(after.stdout), rows(before.stdout)):
        assert float(a["p_positive"]) == pytest.approx(float(b["p_positive"]), abs=1e-5)
    ev = run_cli("eval", str(moved), str(data["train"]), "--json")
    assert ev.returncode == 0, ev.stderr

    with tarfile.open(moved) as tar:
        names = tar.getnames()
        config_text = tar.extractfile("sentinet-export/config.yaml").read().decode()
    assert "sentinet-export/vectors.npz" in names and "sentinet-export/model.pt" in names
    assert str(tmp_path) not in config_text  # no absolute paths from the training machine


def test_archive_with_a_path_outside_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload.txt"
    payload.write_text("x", encoding="utf-8")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../../escaped.txt")
    result = run_cli("predict", str(evil), str(payload))
    assert_one_line_error(result, "evil.tar.gz: not a readable sentinet export")
    assert not list(tmp_path.parent.parent.glob("escaped.txt"))
