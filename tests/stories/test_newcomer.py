"""A new user's first hour: versions, the key reference, config show, dry runs, finding the
data, readable run files — through the CLI as they meet it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sentinet import __version__
from sentinet.config.schema import from_dict
from sentinet.config.paths import resolve_path

from ..helpers import tiny_config_yaml, write_tiny_data
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
    assert from_dict(shown).train.epochs == 3  # what it prints is a valid config


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
    config.write_text("data:\n  train: sentirueval2016/bank_train_2099.xml\n", encoding="utf-8")
    env = {"SENTINET_DATA": ""}
    result = run_cli("train", "--config", str(config), "--dry-run", cwd=tmp_path, env=env)
    checkout = Path(__file__).resolve().parents[2]
    assert_one_line_error(result, "data.train: sentirueval2016/bank_train_2099.xml not found in data/, "
                          f"{checkout / 'data'}/, {checkout.parent / 'shared/data'}/ or "
                          f"{os.environ['XDG_DATA_HOME']}/sentinet/ (SENTINET_DATA is not set)",
                          "set SENTINET_DATA")
    result = run_cli("train", "--config", str(config), "--dry-run", cwd=tmp_path, env={"SENTINET_DATA": str(tmp_path)})
    assert_one_line_error(result, f"not found in $SENTINET_DATA={tmp_path}")


def test_shared_data_is_found_beside_the_checkout_from_any_working_directory(tmp_path):
    """A checkout at tmp/checkout with tmp/shared beside it, run from tmp/elsewhere: the data
    and vectors are found beside the checkout, as the README says (not beside the cwd)."""
    checkout = tmp_path / "checkout"
    shutil.copytree(Path(__file__).resolve().parents[2] / "sentinet", checkout / "sentinet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "pyproject.toml").write_text("[project]\nname = 'copy'\n", encoding="utf-8")
    (tmp_path / "made").mkdir()
    tiny = write_tiny_data(tmp_path / "made")
    (tmp_path / "shared/data/tiny").mkdir(parents=True)
    (tmp_path / "shared/embeddings").mkdir(parents=True)
    shutil.copy(tiny["train"], tmp_path / "shared/data/tiny/train.xml")
    shutil.copy(tiny["vectors"], tmp_path / "shared/embeddings/vectors.txt")
    config = checkout / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny, epochs=1).replace(str(tiny["train"]), "tiny/train.xml")
                      .replace(str(tiny["vectors"]), "vectors.txt"), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(checkout), "SENTINET_DATA": "", "SENTINET_VECTORS": ""}
    result = run_cli("train", "--config", str(config), "--dry-run", cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr
    assert f"vectors: loading {tmp_path / 'shared/embeddings/vectors.txt'}" in result.stdout
    missing = run_cli("train", "--config", str(config), "--dry-run", "--set", "data.train=tiny/nope.xml",
                      cwd=elsewhere, env=env)
    assert_one_line_error(missing, f"tiny/nope.xml not found in data/, {checkout / 'data'}/, "
                          f"{tmp_path / 'shared/data'}/ or ")


def test_data_in_the_working_directory_comes_first(tmp_path, monkeypatch):
    (tmp_path / "project/data/sentirueval2016").mkdir(parents=True)
    local = tmp_path / "project/data/sentirueval2016/banks.xml"
    local.write_text("y", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.delenv("SENTINET_DATA", raising=False)
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


# Every `import torch` fails under this launcher, so a command that reaches its error under it
# said so before importing torch: a timing-free check that mistakes cost no torch start.
NO_TORCH = ("import sys\nsys.modules['torch'] = None\nsys.argv = ['sentinet', *sys.argv[1:]]\n"
            "from sentinet.cli.main import main\nmain()\n")


def without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


@pytest.mark.parametrize(("args", "fragment"), [
    (["train"], "train needs --config"),
    (["train", "--config", "typo.yaml"], "unknown config key 'train.epochz' (did you mean 'epochs'?)"),
    (["train", "--config", "good.yaml", "--set", "train.epochs=-1"], "train.epochs: -1 must be ≥ 1"),
    (["train", "--config", "good.yaml", "--set", "data.train=nope.xml"], "nope.xml not found"),
    (["train", "--config", "good.yaml", "--folds", "2", "--seeds", "2"], "--folds and --seeds: choose one"),
    (["train", "--resume", "nowhere"], "--resume nowhere: no such run directory"),
    (["train", "--resume", "."], "not a sentinet run directory"),
    (["baseline", "--config", "typo.yaml"], "unknown config key 'train.epochz'"),
    (["tune", "--config", "typo.yaml", "--space", "space.yaml"], "unknown config key 'train.epochz'"),
    (["tune", "--config", "good.yaml", "--space", "nowhere.yaml"], "search space file not found"),
    (["config", "show", "typo.yaml"], "unknown config key 'train.epochz'"),
    (["eval", "nowhere", "good.yaml"], "nowhere: no such run directory"),
    (["eval", "nowhere", "missing.xml"], "missing.xml: file not found"),
    (["predict", "nowhere", "missing.txt"], "missing.txt: file not found"),
    (["explain", "nowhere", "текст"], "nowhere: no such run directory"),
    (["explain", "nowhere", " "], "the text is empty"),
    (["export", "nowhere", "out.tar.gz"], "nowhere: no such run or ensemble directory"),
    (["serve", "nowhere"], "nowhere: no such run directory"),
    (["report", "nowhere"], "nowhere"),
    (["train", "--config", "dup.yaml", "--dry-run"], "key 'epochs' is given twice (lines 2 and 3)"),
    (["config", "show", "bomb.yaml"], "refused, as an alias bomb would be"),
])
def test_argument_and_config_errors_come_before_torch_is_imported(tiny_data, args, fragment):
    root = tiny_data["dir"]
    (root / "good.yaml").write_text(tiny_config_yaml(tiny_data, epochs=1), encoding="utf-8")
    (root / "typo.yaml").write_text("train:\n  epochz: 3\n", encoding="utf-8")
    (root / "dup.yaml").write_text("train:\n  epochs: 3\n  epochs: 5\n", encoding="utf-8")
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    (root / "bomb.yaml").write_text("\n".join(bomb) + "\n", encoding="utf-8")  # 700 bytes → 10^9 values
    (root / "space.yaml").write_text("train.optimizer.lr: {type: float, low: 0.001, high: 0.1}\n", encoding="utf-8")
    assert_one_line_error(without_torch(*args, cwd=root), fragment)


def test_version_without_torch_and_the_launcher_really_blocks_it(quick_run, tmp_path):
    version = without_torch("--version", cwd=tmp_path)
    assert version.returncode == 0 and " torch 2." in version.stdout, version.stderr
    blocked = without_torch("eval", str(quick_run["run"]), str(quick_run["train"]), cwd=tmp_path)
    assert blocked.returncode != 0 and "import of torch halted" in blocked.stderr


def test_a_data_file_beside_the_config_is_found_from_anywhere(tmp_path):
    """`data.train: reviews.csv` next to my.yaml, run from another folder; a missing one names
    the config's folder among the places looked in."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    for folder in (project, elsewhere, tmp_path / "made"):
        folder.mkdir()
    tiny = write_tiny_data(tmp_path / "made")
    shutil.copy(tiny["train"], project / "reviews.xml")
    shutil.copy(tiny["vectors"], project / "vectors.txt")
    config = project / "my.yaml"
    config.write_text(tiny_config_yaml(tiny, epochs=1).replace(str(tiny["train"]), "reviews.xml")
                      .replace(str(tiny["vectors"]), "vectors.txt"), encoding="utf-8")
    env = {"SENTINET_DATA": "", "SENTINET_VECTORS": ""}
    result = run_cli("train", "--config", "../project/my.yaml", "--dry-run", cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr
    assert f"vectors: loading {project / 'vectors.txt'}" in result.stdout
    missing = run_cli("train", "--config", "../project/my.yaml", "--dry-run", "--set", "data.train=nope.xml",
                      cwd=elsewhere, env=env)
    assert_one_line_error(missing, "data.train: nope.xml not found in data/, ", f", nor beside the config in {project}/;")


@pytest.mark.parametrize("command", ["train", "fetch"])
def test_a_config_given_without_config_says_how(tmp_path, command):
    result = run_cli(command, "my.yaml", cwd=tmp_path)
    assert_one_line_error(result, f"{command} takes the config as an option: sentinet {command} --config my.yaml")
    assert "[STRAY" not in run_cli(command, "--help").stdout
