"""A user with a few hundred labelled texts and no vectors file (issue 31, item 6): word2vec
trained on them for the usual 10 epochs comes out nearly parallel and the frozen model learns
next to nothing. The run trains it longer, says so in one line, and its config.yaml records
the number, so a resume or a rerun trains the same vectors."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..helpers import run_cli, write_tiny_data


def config_yaml(data: dict[str, Path]) -> str:
    """tiny_data's corpus (120 training tweets, 5 tokens each), no vectors.path."""
    return f"""
data:
  train: {data['train']}
  val_fraction: 0.2
model:
  encoder:
    name: cnn
    widths: [2]
    filters: 4
train:
  epochs: 1
  batch_size: 32
  seed: 3
  device: cpu
"""


def test_small_corpus_gets_more_word2vec_epochs_said_in_one_line_and_recorded(tmp_path):
    data = write_tiny_data(tmp_path)
    config = tmp_path / "small.yaml"
    config.write_text(config_yaml(data), encoding="utf-8")
    env = {"SENTINET_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}

    result = run_cli("train", "-c", str(config), "--run-dir", str(tmp_path / "run"), "--threads", "1", env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    said = [line for line in output.splitlines() if "vectors.word2vec.epochs: auto → 100" in line]
    assert len(said) == 1, output
    assert "120 texts (600 tokens) are few for word2vec: 100 epochs, not the usual 10" in said[0]
    assert "training word2vec on 120 training texts (600 tokens, 100 epochs;" in output
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text(encoding="utf-8"))
    assert saved["vectors"]["word2vec"]["epochs"] == 100
    assert saved["vectors"]["freeze"] is True  # the vectors themselves stay as configured
    # (a number the user set is left alone, silently: tests/data/test_word2vec_epochs.py)

