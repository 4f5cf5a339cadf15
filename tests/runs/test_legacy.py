"""Run directories and export archives written by an earlier release (tests/fixtures/legacy,
made by the code before the package layout) still predict the same bytes, evaluate, resume
and export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import run_cli

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"
WRITTEN_UNDER = "/tmp/sentinet-legacy"  # where the old release wrote them (saved in their files)
TEXT_FILES = {".yaml", ".json", ".log", ".csv", ""}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A copy of the fixtures whose saved paths point at the copy (as if moved with the data)."""
    root = Path(shutil.copytree(LEGACY, tmp_path / "legacy"))
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in TEXT_FILES:
            text = path.read_text(encoding="utf-8")
            if WRITTEN_UNDER in text:
                path.write_text(text.replace(WRITTEN_UNDER, str(root)), encoding="utf-8")
    return root


@pytest.mark.parametrize("model, expected", [("runs/gru", "gru"), ("runs/cnn", "cnn"),
                                             ("runs/baseline", "baseline"), ("gru.tar.gz", "archive")])
def test_old_models_predict_the_same_bytes(legacy: Path, tmp_path: Path, model: str, expected: str) -> None:
    out = tmp_path / "out.csv"
    result = run_cli("predict", str(legacy / model), str(legacy / "lines.txt"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (LEGACY / f"{expected}.predictions.csv").read_bytes()


def test_old_run_evaluates(legacy: Path) -> None:
    result = run_cli("eval", str(legacy / "runs/gru"), str(legacy / "train.xml"), "--json")
    assert result.returncode == 0, result.stderr
    assert 0 <= json.loads(result.stdout)["score"] <= 1


def test_old_interrupted_run_resumes(legacy: Path) -> None:
    run = legacy / "runs/interrupted"
    result = run_cli("train", "--resume", str(run))
    assert result.returncode == 0, result.stderr
    assert not (run / "INCOMPLETE").exists()
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]


def test_old_run_exports_an_archive_that_predicts_the_same(legacy: Path, tmp_path: Path) -> None:
    archive, out = tmp_path / "again.tar.gz", tmp_path / "out.csv"
    assert run_cli("export", str(legacy / "runs/gru"), str(archive)).returncode == 0
    result = run_cli("predict", str(archive), str(legacy / "lines.txt"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (LEGACY / "gru.predictions.csv").read_bytes()
