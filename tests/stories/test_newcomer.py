"""A new user's first hour: versions, the key reference, config show, dry runs, finding the
data, readable run files — through the CLI as they meet it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sentinet import __version__
from sentinet.config import from_dict
from sentinet.config_paths import resolve_path
from sentinet.models import ENCODER_OPTIONS

from ..helpers import tiny_config_yaml
from ..helpers import assert_one_line_error

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment.setdefault("PYTHONPATH", str(ROOT))
    return subprocess.run([sys.executable, "-m", "sentinet", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=environment)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"sentinet {__version__} torch ")


def test_key_reference_is_generated_and_current():
    result = run_cli("config", "reference")
    assert result.returncode == 0, result.stderr
    assert "| `train.averaging` | str | `none` | one of `none`, `ema`, `swa`." in result.stdout
    assert (ROOT / "docs/CONFIG.md").read_text(encoding="utf-8") == result.stdout, (
        "docs/CONFIG.md is stale: regenerate it with `sentinet config reference > docs/CONFIG.md`")


def test_config_show_prints_every_default_and_the_overrides(tiny_data):
    config = tiny_data["dir"] / "c.yaml"
    config.write_text("data:\n  train: ./train.xml\nmodel:\n  encoder: {name: lstm}\n", encoding="utf-8")
    result = run_cli("config", "show", str(config), "--set", "train.epochs=3", cwd=tiny_data["dir"])
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["train"]["epochs"] == 3 and shown["train"]["averaging"] == "none"
    assert shown["model"]["encoder"] == {"name": "lstm", "hidden_size": 128, "num_layers": 1,
                                         "bidirectional": True, "dropout": 0.0, "pooling": "max"}
    assert shown["data"]["train"] == str(tiny_data["train"])  # resolved: the file was found
    assert from_dict(shown, ENCODER_OPTIONS).train.epochs == 3  # what it prints is a valid config


def test_dry_run_checks_everything_and_writes_nothing(tiny_data):
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data), encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: config, data and vectors are fine" in result.stdout
    assert "coverage" in result.stdout and "trainable parameters" in result.stdout
    assert not (tiny_data["dir"] / "runs").exists()
    bad = run_cli("train", "--config", str(config), "--dry-run", "--set", "vectors.path=nowhere.txt")
    assert_one_line_error(bad, "vectors.path: nowhere.txt not found")


def test_missing_data_says_where_it_looked_and_what_to_set(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  train: sentirueval2016/bank_train_2016.xml\n", encoding="utf-8")
    env = {"SENTINET_DATA": ""}
    result = run_cli("train", "--config", str(config), cwd=tmp_path, env=env)
    assert_one_line_error(result, "data.train: sentirueval2016/bank_train_2016.xml not found in data/ and "
                          "../shared/data/ (SENTINET_DATA is not set)", "set SENTINET_DATA")
    result = run_cli("train", "--config", str(config), cwd=tmp_path, env={"SENTINET_DATA": str(tmp_path)})
    assert_one_line_error(result, f"not found in $SENTINET_DATA={tmp_path}")


def test_data_is_found_beside_the_checkout_like_the_makefile_does(tmp_path, monkeypatch):
    (tmp_path / "shared/data/sentirueval2016").mkdir(parents=True)
    target = tmp_path / "shared/data/sentirueval2016/banks.xml"
    target.write_text("x", encoding="utf-8")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.delenv("SENTINET_DATA", raising=False)
    assert resolve_path("sentirueval2016/banks.xml", "SENTINET_DATA") == target.resolve()
    (tmp_path / "project/data/sentirueval2016").mkdir(parents=True)
    local = tmp_path / "project/data/sentirueval2016/banks.xml"
    local.write_text("y", encoding="utf-8")  # data/ comes first
    assert resolve_path("sentirueval2016/banks.xml", "SENTINET_DATA") == local.resolve()


def test_run_files_are_readable_by_others_and_record_versions(tiny_data):
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=1), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", "import os, sys, runpy; os.umask(0o022); "
                             "sys.argv = ['sentinet', 'train', '--config', sys.argv[1]]; "
                             "runpy.run_module('sentinet', run_name='__main__')", str(config)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (run,) = (tiny_data["dir"] / "runs").iterdir()
    for name in ("config.yaml", "vocab.json", "model.pt", "metrics.json", "train.log"):
        assert stat.S_IMODE((run / name).stat().st_mode) == 0o644, name
    versions = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["versions"]
    assert versions["sentinet"] == __version__ and versions["torch"]


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_a_missing_input_is_reported_before_any_model_is_loaded(tmp_path, command):
    result = run_cli(command, str(tmp_path / "no-run"), str(tmp_path / "missing.xml"))
    assert_one_line_error(result, "missing.xml: file not found")


def test_a_minimal_config_trains(tiny_data):
    """data + vectors and nothing else: every other key at its default, the GRU's included."""
    from ..helpers import run_cli

    config = tiny_data["dir"] / "minimal.yaml"
    config.write_text(f"data:\n  train: {tiny_data['train']}\nvectors:\n  path: {tiny_data['vectors']}\n",
                      encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", "train.epochs=1",
                     "--output-dir", str(tiny_data["dir"] / "runs"))
    assert result.returncode == 0, result.stderr
    (run,) = (tiny_data["dir"] / "runs").iterdir()
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["encoder"] == {"name": "gru", "hidden_size": 128, "num_layers": 1,
                                         "bidirectional": True, "dropout": 0.0, "pooling": "max"}
