"""Issue 15 as a user meets it: the auxiliary LM objective (full and hierarchical softmax,
unlabelled texts, resume), the hierarchical classifier head on 2,000 classes, transfer between
runs (model.init_from) with per-part learning rates, and the random-split warning."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from sentinet.runs.weights import load_weights

from ..fault_launcher import INTERRUPT
from ..helpers import STATEFUL, assert_one_line_error, run_cli, tiny_config_yaml, without_times


def _train(config: Path, out: Path, *args: str, **kw) -> Path:
    result = run_cli("train", "--config", str(config), "--output-dir", str(out), *args, **kw)
    assert result.returncode == 0, result.stderr
    (run,) = out.iterdir()
    return run


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture
def config(tiny_data) -> Path:
    path = tiny_data["dir"] / "tiny.yaml"
    path.write_text(tiny_config_yaml(tiny_data, epochs=6), encoding="utf-8")
    return path


AUX = ["--set", "train.aux_lm.weight=1", "--set", "train.aux_lm.min_count=1", "--set", "train.patience=6"]


@pytest.mark.parametrize("softmax", ["full", "hierarchical"])
def test_the_lm_loss_goes_down_and_leaves_the_model_file_alone(config, tiny_data, softmax):
    run = _train(config, tiny_data["dir"] / softmax, *AUX, "--set", f"train.aux_lm.softmax={softmax}")
    lm = [row["lm_loss"] for row in _metrics(run)["epochs"]]
    assert len(lm) == 6 and lm[-1] < lm[0] - 0.1, lm
    assert all(np.isfinite(lm))
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "(LM " in log
    plain = _train(config, tiny_data["dir"] / f"plain-{softmax}")
    # the LM head stays out of model.pt: the same keys as a run without it
    assert load_weights(run / "model.pt").keys() == load_weights(plain / "model.pt").keys()
    assert "lm_loss" not in _metrics(plain)["epochs"][0]
    predicted = run_cli("predict", str(run), str(tiny_data["lines"]))
    assert predicted.returncode == 0, predicted.stderr


def test_unlabelled_texts_feed_the_lm_and_resume_replays_them_exactly(config, tiny_data):
    extra = ["--set", f"data.unlabeled=[{tiny_data['test']}, {tiny_data['lines']}]", *AUX, *STATEFUL]
    whole = _train(config, tiny_data["dir"] / "whole", *extra)
    log = (whole / "train.log").read_text(encoding="utf-8")
    assert "data: 34 unlabelled texts for the auxiliary language model" in log  # 31 tweets + 3 lines
    out = tiny_data["dir"] / "cut"
    cut = run_cli("train", "--config", str(config), "--output-dir", str(out), *extra,
                  env={INTERRUPT: "2"}, faults=True)
    assert cut.returncode == 130, cut.stderr
    (run,) = out.iterdir()
    resumed = run_cli("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    final, expected = _metrics(run), _metrics(whole)
    assert without_times(final) == without_times(expected)
    assert [r["lm_loss"] for r in final["epochs"]] == [r["lm_loss"] for r in expected["epochs"]]


def test_unlabelled_texts_without_the_lm_are_said_to_be_unused(config, tiny_data):
    run = _train(config, tiny_data["dir"] / "r", "--set", f"data.unlabeled=[{tiny_data['lines']}]",
                 "--set", "train.epochs=1")
    assert "data.unlabeled is read only by train.aux_lm" in (run / "train.log").read_text(encoding="utf-8")


def test_the_lm_needs_per_token_states_and_files_that_exist(tiny_data):
    cnn = tiny_data["dir"] / "cnn.yaml"
    cnn.write_text(tiny_config_yaml(tiny_data, encoder="cnn").replace("    hidden_size: 16\n", ""),
                   encoding="utf-8")
    assert_one_line_error(run_cli("train", "--config", str(cnn), *AUX), "train.aux_lm", "no per-token states")
    assert_one_line_error(run_cli("train", "--config", str(cnn), "--set", "data.unlabeled=[nowhere.txt]"),
                          "data.unlabeled", "nowhere.txt")
    assert_one_line_error(run_cli("train", "--config", str(cnn), "--set", "train.aux_lm.softmax=tree"),
                          "train.aux_lm.softmax", "hierarchical")


# --------------------------------------------------------------------------------------
# The hierarchical classifier head on a generated many-class set


def _many_classes(root: Path, classes: int = 2000) -> Path:
    """Each class c<i> is marked by its own word w<i> amid filler: learnable, 2,000 classes."""
    rng, g = random.Random(0), np.random.default_rng(0)
    words = [f"w{i}" for i in range(classes)] + [f"f{i}" for i in range(30)]
    with open(root / "vectors.txt", "w", encoding="utf-8") as f:
        f.write(f"{len(words)} 16\n")
        f.writelines(w + " " + " ".join(f"{x:.4f}" for x in g.normal(0, 1, 16)) + "\n" for w in words)
    for name, per_class, every in (("train.tsv", 2, 1), ("dev.tsv", 1, 4)):
        rows = [f"f{rng.randrange(30)} w{i} f{rng.randrange(30)}\tc{i}\n"
                for i in range(0, classes, every) for _ in range(per_class)]
        (root / name).write_text("text\tlabel\n" + "".join(rows), encoding="utf-8")
    config = root / "many.yaml"
    config.write_text(f"""
data: {{train: {root / 'train.tsv'}, dev: {root / 'dev.tsv'}}}
vectors: {{path: {root / 'vectors.txt'}}}
model: {{encoder: {{name: gru, hidden_size: 32}}, head: hierarchical, head_dropout: 0.0}}
train: {{epochs: 2, batch_size: 32, optimizer: {{lr: 0.02}}, device: cpu, patience: 2}}
""", encoding="utf-8")
    return config


def test_a_hierarchical_head_trains_and_predicts_2000_classes(tmp_path):
    run = _train(_many_classes(tmp_path), tmp_path / "runs")
    metrics = _metrics(run)
    assert len(metrics["labels"]) == 2000
    assert metrics["best"]["accuracy"] > 0.02  # chance is 0.0005
    assert "confusion" not in metrics["best"] and len(metrics["best"]["top_confusions"]) <= 20
    assert (run / "metrics.json").stat().st_size < 200_000  # bounded: no 2000 x 2000 matrix
    assert not (run / "confusion.png").exists()
    lines = tmp_path / "lines.txt"
    lines.write_text("f1 w7 f2\nw1999\n", encoding="utf-8")
    predicted = run_cli("predict", str(run), str(lines))
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.DictReader(io.StringIO(predicted.stdout)))
    probs = np.array([[float(v) for k, v in row.items() if k.startswith("p_")] for row in rows])
    assert probs.shape == (2, 2000)
    assert np.allclose(probs.sum(1), 1, atol=2e-3)  # six decimals x 2000 columns
    evaluated = run_cli("eval", str(run), str(tmp_path / "dev.tsv"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "2000 classes: per-class scores and the confusion matrix are left out" in evaluated.stdout


# --------------------------------------------------------------------------------------
# Transfer between runs, per-part learning rates


@pytest.fixture
def source(config, tiny_data) -> Path:
    return _train(config, tiny_data["dir"] / "source", "--set", "train.epochs=2")


def test_init_from_loads_the_encoder_head_and_word_rows(config, tiny_data, source):
    fixed = ["--set", f"model.init_from={source}", "--set", "train.epochs=1",
             "--set", "train.lr_scale.encoder=0", "--set", "train.lr_scale.head=0"]
    run = _train(config, tiny_data["dir"] / "target", *fixed)
    theirs, ours = load_weights(source / "model.pt"), load_weights(run / "model.pt")
    for key in theirs:
        if key.startswith(("encoder.", "head.")):
            assert torch.equal(theirs[key], ours[key]), key  # loaded, and scale 0 kept them
    vocab = json.loads((run / "vocab.json").read_text(encoding="utf-8"))
    source_vocab = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["words"][: vocab["n_learned"]] == source_vocab["words"][: source_vocab["n_learned"]]
    log = (run / "train.log").read_text(encoding="utf-8")
    assert f"model: initialised from {source}: encoder and the vectors of" in log and "head (same labels)" in log
    fresh = _train(config, tiny_data["dir"] / "fresh", "--set", "train.epochs=1")
    assert not torch.equal(load_weights(fresh / "model.pt")["encoder.rnn.weight_ih_l0"],
                           theirs["encoder.rnn.weight_ih_l0"])


def test_init_from_refuses_what_does_not_fit(config, tiny_data, source):
    def refused(*sets: str, fragments: tuple[str, ...]) -> None:
        args = [a for s in sets for a in ("--set", s)]
        assert_one_line_error(run_cli("train", "--config", str(config), *args), *fragments)

    refused(f"model.init_from={source}", "model.encoder.hidden_size=8",
            fragments=("model.init_from", "hidden_size 16 vs 8", "must match"))
    refused(f"model.init_from={tiny_data['dir']}", fragments=("model.init_from", "not a sentinet run"))
    refused("model.init_from=/no/such/run", fragments=("model.init_from", "no such run directory"))
    ensemble = tiny_data["dir"] / "ens"
    ensemble.mkdir()
    (ensemble / "ensemble.json").write_text(json.dumps({"members": [str(source)]}), encoding="utf-8")
    refused(f"model.init_from={ensemble}", fragments=("is an ensemble", "member"))


def test_each_part_trains_at_its_own_rate(config, tiny_data):
    scales = ["--set", "train.lr_scale.embeddings=0.5", "--set", "train.lr_scale.encoder=0.1",
              "--set", "train.lr_scale.head=2", "--set", "train.epochs=1"]
    run = _train(config, tiny_data["dir"] / "r", *scales)
    saved = torch.load(run / "last.pt", weights_only=True)
    (optimizer,) = saved["optimizers"]
    groups = {g["name"]: g for g in optimizer["param_groups"]}
    assert {name: g["lr"] for name, g in groups.items()} == pytest.approx(
        {"embeddings": 0.005, "encoder": 0.001, "head": 0.02})  # base lr 0.01 in the tiny config
    assert len(groups["head"]["params"]) == 2 and len(groups["embeddings"]["params"]) == 1
    assert _metrics(run)["epochs"][0]["lr"] == pytest.approx(0.001)  # the encoder's rate is reported
    plain = _train(config, tiny_data["dir"] / "plain", "--set", "train.epochs=1")
    (one,) = torch.load(plain / "last.pt", weights_only=True)["optimizers"]
    assert len(one["param_groups"]) == 1  # no scales: one group, as before


def test_a_random_split_of_dated_tweets_is_said_to_overstate(config, tiny_data):
    warning = "a random dev split overstates how well the model will do on a later period"
    random_run = _train(config, tiny_data["dir"] / "random", "--set", "train.epochs=1")
    assert (random_run / "train.log").read_text(encoding="utf-8").count(warning) == 1
    dated = tiny_data["dir"] / "dated.xml"
    from ..helpers import make_corpus, sentirueval_xml

    rows = make_corpus(150, seed=1)
    dated.write_text(sentirueval_xml(rows, dates=[1400000000 + 3600 * i for i in range(150)]), encoding="utf-8")
    temporal = _train(config, tiny_data["dir"] / "temporal", "--set", f"data.train={dated}",
                      "--set", "data.split=temporal", "--set", "train.epochs=1",
                      "--set", f"data.unlabeled=[{dated}]", *AUX)
    log = (temporal / "train.log").read_text(encoding="utf-8")
    assert "overstates" not in log
    # the unlabelled texts lose the dev period too (the latest 20%: 30 of 150)
    assert "data: 120 unlabelled texts for the auxiliary language model; 30 from the dev period left out" in log
