"""`train --run-dir DIR`: scripts name the run directory instead of parsing stdout; a folder
with anything in it is never written into."""

from __future__ import annotations

import json
from pathlib import Path

from ..helpers import assert_one_line_error, run_cli, snapshot, tiny_config_yaml


def config_for(data: dict, tmp_path: Path) -> Path:
    config = tmp_path / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, epochs=1), encoding="utf-8")
    return config


def test_a_run_goes_exactly_where_it_is_named(tiny_data, tmp_path: Path) -> None:
    config = config_for(tiny_data, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for where in (tmp_path / "new" / "run", empty):
        result = run_cli("train", "--config", str(config), "--run-dir", str(where))
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith(f"{where}\t")
        assert (where / "model.pt").is_file() and json.loads((where / "metrics.json").read_text())["best"]
    assert not (tmp_path / "runs").exists()  # nothing in the output folder


def test_a_group_goes_there_too(tiny_data, tmp_path: Path) -> None:
    config = config_for(tiny_data, tmp_path)
    result = run_cli("train", "--config", str(config), "--seeds", "2", "--run-dir", str(tmp_path / "group"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "group").iterdir() if p.is_dir()) == ["seed3", "seed4"]  # train.seed 3


def test_a_folder_with_anything_in_it_is_refused_and_left_alone(tiny_data, tmp_path: Path) -> None:
    config = config_for(tiny_data, tmp_path)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    before = snapshot(taken)
    result = run_cli("train", "--config", str(config), "--run-dir", str(taken))
    assert_one_line_error(result, f"--run-dir {taken}: not empty; name a new or empty folder")
    assert snapshot(taken) == before
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert_one_line_error(run_cli("train", "--config", str(config), "--run-dir", str(tmp_path / "file")),
                          "not a folder")
    assert_one_line_error(run_cli("train", "--resume", str(taken), "--run-dir", str(tmp_path / "x")),
                          "--resume continues a run as it was configured")
