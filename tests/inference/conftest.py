"""Every kind of model a path can hold, made without training: the runs, baseline and export
archive an earlier release wrote (tests/fixtures/legacy), and an ensemble of two of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.runs.test_legacy import LEGACY, TEXT_FILES, WRITTEN_UNDER


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    """Keys: run, cnn, baseline, archive, ensemble (of run and cnn), texts (lines.txt)."""
    from sentinet.ensemble import combine_runs

    root = Path(shutil.copytree(LEGACY, tmp_path / "legacy"))
    for path in root.rglob("*"):  # the saved paths point at the copy, as tests/runs/test_legacy.py does
        if path.is_file() and path.suffix in TEXT_FILES:
            text = path.read_text(encoding="utf-8")
            if WRITTEN_UNDER in text:
                path.write_text(text.replace(WRITTEN_UNDER, str(root)), encoding="utf-8")
    runs = root / "runs"
    ensemble = combine_runs([runs / "gru", runs / "cnn"], tmp_path / "ensemble").path
    return {"run": runs / "gru", "cnn": runs / "cnn", "baseline": runs / "baseline",
            "archive": root / "gru.tar.gz", "ensemble": ensemble, "texts": root / "lines.txt"}
