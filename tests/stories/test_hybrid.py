"""``train.hybrid: blend`` as users meet it: a run that carries its linear part, predicts the
weighted average of both, and stays one model through eval, predict, explain, export, ONNX,
report, --seeds groups and the Python API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import (
    NAMES, assert_one_line_error, make_corpus, run_cli, sentirueval_xml, tiny_config_yaml, write_word2vec_text,
    POSITIVE, NEGATIVE, NEUTRAL, FILLER, UNSEEN,
)

TEXTS = ["сбербанк спасибо отлично", "втб ужасно плохо", "мтс сегодня", "кошмар великолепно"]


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory) -> dict[str, Path]:
    """A GRU + TF-IDF blend trained on the tiny corpus; keys: run, config, dir, lines, test."""
    root = tmp_path_factory.mktemp("hybrid")
    data = {"dir": root, "train": root / "train.xml", "vectors": root / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(150, seed=1)), encoding="utf-8")
    write_word2vec_text(data["vectors"], sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER, *NAMES.values(), *UNSEEN}),
                        dim=16)
    config = root / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, epochs=3).replace("train:\n", "train:\n  hybrid: blend\n"),
                      encoding="utf-8")
    result = run_cli("train", "--config", str(config))
    assert result.returncode == 0, result.stderr
    (run,) = (root / "runs").iterdir()
    lines = root / "lines.txt"
    lines.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    test = root / "test.xml"
    test.write_text(sentirueval_xml(make_corpus(30, seed=7)), encoding="utf-8")
    return {**data, "config": config, "run": run, "lines": lines, "test": test}


def parts(run: Path, tmp_path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """The network alone (the run without hybrid.json) and the linear part alone on TEXTS."""
    import sentinet
    from sentinet.baseline import load
    from sentinet.data.tokenize import Tokenizer
    from sentinet.runs.rundir import read_config

    alone = Path(shutil.copytree(run, tmp_path / "network-alone"))
    (alone / "hybrid.json").unlink()
    neural = sentinet.load(alone, device="cpu").predict_proba(TEXTS)
    linear_model, _ = load(run, ("linear.json", "linear.npz"))
    tokenizer = Tokenizer(read_config(run / "config.yaml").tokenizer)
    linear = linear_model.predict([" ".join(tokenizer(t)) for t in TEXTS])
    weight = json.loads((run / "hybrid.json").read_text(encoding="utf-8"))["neural_weight"]
    return neural, linear, weight


def test_a_hybrid_run_keeps_its_linear_part_as_data(hybrid):
    run = hybrid["run"]
    names = {p.name for p in run.iterdir()}
    assert {"hybrid.json", "linear.json", "linear.npz", "model.pt"} <= names
    assert "baseline.json" not in names  # a hybrid is a run, not a baseline
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["hybrid"]["kind"] == "blend"
    assert "hybrid: dev neural" in (run / "train.log").read_text(encoding="utf-8")


def test_a_blends_probabilities_are_the_weighted_average_of_its_parts(hybrid, tmp_path):
    import sentinet

    neural, linear, weight = parts(hybrid["run"], tmp_path)
    probs = sentinet.load(hybrid["run"], device="cpu").predict_proba(TEXTS)
    np.testing.assert_allclose(probs, weight * neural + (1 - weight) * linear, atol=1e-6)
    assert np.abs(neural - linear).max() > 1e-3  # the parts differ: the test can fail


def test_the_dev_chosen_share_is_the_grids_best_recomputed_from_the_parts(hybrid, tmp_path):
    """metrics.json's grid is what the parts give on dev, and the chosen share is its best."""
    from sentinet.evaluation.decision import decide
    from sentinet.evaluation.metrics import scores
    from sentinet.inference.hybrid import GRID, blend
    from sentinet.labels import LabelSet

    run = hybrid["run"]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    dev = json.loads((run / "dev_predictions.json").read_text(encoding="utf-8"))
    chosen = metrics["hybrid"]
    grid = {row["neural_weight"]: row["score"] for row in chosen["grid"]}
    assert sorted(grid) == sorted(GRID)
    best = max(grid.values())
    assert grid[chosen["neural_weight"]] == best
    ties = [w for w, s in grid.items() if s == best]
    assert chosen["neural_weight"] == min(ties, key=lambda w: (abs(w - 0.5), w))
    # dev_predictions.json holds the blend at the chosen share: its score is the grid's best
    classes = LabelSet.of(metrics["labels"])
    gold, probs = [row["gold"] for row in dev], np.asarray([row["probs"] for row in dev])
    assert scores(gold, decide(probs, classes), classes, "auto")["score"] == pytest.approx(best, abs=1e-9)
    # and the blend's dev probabilities are the parts' at that share
    neural, linear = np.asarray(dev_parts(run, tmp_path))
    np.testing.assert_allclose(blend(neural, linear, chosen["neural_weight"]), probs, atol=2e-6)
    for weight in GRID:
        got = scores(gold, decide(blend(neural, linear, weight), classes), classes, "auto")["score"]
        assert got == pytest.approx(grid[weight], abs=1e-9)


def dev_parts(run: Path, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Each part's probabilities of the run's own dev records, recomputed from its files."""
    import sentinet
    from sentinet.data.training_data import load_training_data
    from sentinet.inference.hybrid import LINEAR_FILES
    from sentinet.baseline import load
    from sentinet.data.tokenize import Tokenizer
    from sentinet.runs.rundir import read_config

    config = read_config(run / "config.yaml")
    texts = [r.text for r in load_training_data(config).dev]
    alone = Path(shutil.copytree(run, tmp_path / "dev-network-alone"))
    (alone / "hybrid.json").unlink()
    neural = sentinet.load(alone, device="cpu").predict_proba(texts)
    linear_model, _ = load(run, LINEAR_FILES)
    tokenizer = Tokenizer(config.tokenizer)
    return neural, linear_model.predict([" ".join(tokenizer(t)) for t in texts])


def test_eval_predict_and_the_archive_agree_row_for_row(hybrid, tmp_path):
    run, lines = hybrid["run"], hybrid["lines"]
    direct = run_cli("predict", str(run), str(lines), "--format", "jsonl")
    assert direct.returncode == 0, direct.stderr
    archive = tmp_path / "hybrid.tar.gz"
    exported = run_cli("export", str(run), str(archive))
    assert exported.returncode == 0, exported.stderr
    unpacked = run_cli("predict", str(archive), str(lines), "--format", "jsonl")
    assert unpacked.returncode == 0, unpacked.stderr
    assert unpacked.stdout == direct.stdout and len(direct.stdout.splitlines()) == len(TEXTS)
    import sentinet

    rows = [json.loads(line) for line in direct.stdout.splitlines()]
    probs = sentinet.load(run, device="cpu").predict_proba(TEXTS)
    np.testing.assert_allclose([[r["p_negative"], r["p_neutral"], r["p_positive"]] for r in rows], probs, atol=1e-6)
    evaluated = run_cli("eval", str(run), str(hybrid["test"]))
    assert evaluated.returncode == 0 and "F-macro" in evaluated.stdout + evaluated.stderr


def test_explain_occludes_the_whole_hybrid_and_refuses_gradients(hybrid, tmp_path):
    import sentinet
    from sentinet.inference.explain import explain

    model = sentinet.load(hybrid["run"], device="cpu")
    text = TEXTS[0]
    explanation = explain(model.predictor, text)
    neural, linear, weight = parts(hybrid["run"], tmp_path)
    blended = weight * neural[0] + (1 - weight) * linear[0]
    assert list(explanation.probabilities.values()) == pytest.approx(list(blended), abs=1e-6)
    rows = model.predictor.occlusion_probabilities(explanation.tokens)
    assert rows.shape == (len(explanation.tokens) + 1, 3)
    refused = run_cli("explain", str(hybrid["run"]), text, "--method", "integrated_gradients")
    assert_one_line_error(refused, "hybrid", "--method occlusion")


def test_report_shows_the_parts_side_by_side(hybrid):
    result = run_cli("report", str(hybrid["run"]))
    assert result.returncode == 0, result.stderr
    for row in ("hybrid: neural alone", "hybrid: linear alone", "hybrid: blend, network 0.5"):
        assert row in result.stdout
    assert "(chosen)" in result.stdout


def test_onnx_says_plainly_the_linear_part_is_not_in_the_graph(hybrid, tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    target = tmp_path / "model.onnx"
    result = run_cli("export", str(hybrid["run"]), "--onnx", str(target))
    assert result.returncode == 0, result.stderr
    assert "linear part" in result.stderr and "not in it" in result.stderr
    assert "not_in_graph" in json.loads((tmp_path / "model.onnx.json").read_text(encoding="utf-8"))


def test_a_seed_group_of_hybrids_is_the_mean_of_its_member_hybrids(hybrid, tmp_path):
    import sentinet

    out = tmp_path / "group"
    result = run_cli("train", "--config", str(hybrid["config"]), "--seeds", "2", "--set", f"run.output_dir={out}")
    assert result.returncode == 0, result.stderr
    (group,) = out.iterdir()
    members = sorted(p for p in group.iterdir() if p.name.startswith("seed"))
    assert len(members) == 2 and all((m / "hybrid.json").is_file() for m in members)
    mean = np.mean([sentinet.load(m, device="cpu").predict_proba(TEXTS) for m in members], axis=0)
    np.testing.assert_allclose(sentinet.load(group, device="cpu").predict_proba(TEXTS), mean, atol=1e-6)


def test_a_fixed_share_is_the_share_a_run_keeps(hybrid, tmp_path):
    out = tmp_path / "fixed"
    result = run_cli("train", "--config", str(hybrid["config"]), "--set", "train.hybrid_shares=[0.3]",
                     "--set", f"run.output_dir={out}")
    assert result.returncode == 0, result.stderr
    (run,) = out.iterdir()
    assert json.loads((run / "hybrid.json").read_text(encoding="utf-8"))["neural_weight"] == 0.3
    grid = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["hybrid"]["grid"]
    assert [row["neural_weight"] for row in grid] == [0.3]


def test_a_run_without_a_hybrid_is_unchanged(learned_run):
    """No hybrid.json, no linear files, no hybrid block: the network alone, as before."""
    names = {p.name for p in learned_run["run"].iterdir()}
    assert not names & {"hybrid.json", "linear.json", "linear.npz"}
    metrics = json.loads((learned_run["run"] / "metrics.json").read_text(encoding="utf-8"))
    assert "hybrid" not in metrics
