"""Soft targets (train.distill) in known numbers: the losses against a hand computation, the
temperature, batches of probability rows, and the teacher checks that run before torch."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sentinet.config.schema import from_dict
from sentinet.data.batching import EncodedDataset, collate
from sentinet.data.readers import Record
from sentinet.data.training_data import TrainingData
from sentinet.errors import SentinetError
from sentinet.labels import LabelSet
from sentinet.runs import rundir
from sentinet.training.optim import MultiLabelLoss, WeightedLoss, build_loss
from sentinet.training.teacher import (
    _class_order, check_teacher, comparison, ensemble_dev, soft_targets, temper, training_set,
)

LOGITS = [[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]]
SOFT = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]


def log_softmax(row: list[float], t: float = 1.0) -> list[float]:
    scaled = [x / t for x in row]
    total = math.log(sum(math.exp(x) for x in scaled))
    return [x - total for x in scaled]


def soft_ce(row: list[float], p: list[float], t: float = 1.0, class_weight: list[float] | None = None) -> float:
    w = class_weight or [1.0] * len(p)
    return -sum(wc * pc * lq for wc, pc, lq in zip(w, p, log_softmax(row, t)))


def loss(module, logits, labels, weights=None) -> float:
    return module(torch.tensor(logits), torch.tensor(labels),
                  None if weights is None else torch.tensor(weights)).item()


# --------------------------------------------------------------------------------------
# The losses


def test_soft_cross_entropy_is_the_weighted_mean_of_minus_p_log_q():
    weights = [1.0, 3.0]
    by_hand = (1 * soft_ce(LOGITS[0], SOFT[0]) + 3 * soft_ce(LOGITS[1], SOFT[1])) / 4
    assert loss(WeightedLoss(None, 0.0), LOGITS, SOFT, weights) == pytest.approx(by_hand, rel=1e-6)
    unweighted = (soft_ce(LOGITS[0], SOFT[0]) + soft_ce(LOGITS[1], SOFT[1])) / 2
    assert loss(WeightedLoss(None, 0.0), LOGITS, SOFT) == pytest.approx(unweighted, rel=1e-6)


def test_one_hot_rows_give_the_hard_label_loss():
    hard = WeightedLoss(torch.tensor([1.0, 2.0, 0.5]), 0.0)
    one_hot = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert loss(hard, LOGITS, one_hot, [1.0, 3.0]) == pytest.approx(loss(hard, LOGITS, [0, 1], [1.0, 3.0]), rel=1e-6)


def test_class_weights_weigh_each_class_and_the_norm_is_the_expected_class_weight():
    cw = [1.0, 2.0, 0.5]
    norm = [sum(c * p for c, p in zip(cw, row)) for row in SOFT]
    by_hand = (soft_ce(LOGITS[0], SOFT[0], class_weight=cw) + 3 * soft_ce(LOGITS[1], SOFT[1], class_weight=cw)) \
        / (norm[0] + 3 * norm[1])
    assert loss(WeightedLoss(torch.tensor(cw), 0.0), LOGITS, SOFT, [1.0, 3.0]) == pytest.approx(by_hand, rel=1e-6)


def test_temperature_divides_the_scores_and_multiplies_the_loss_by_its_square():
    by_hand = 4 * (soft_ce(LOGITS[0], SOFT[0], t=2) + soft_ce(LOGITS[1], SOFT[1], t=2)) / 2
    assert loss(WeightedLoss(None, 0.0, temperature=2.0), LOGITS, SOFT) == pytest.approx(by_hand, rel=1e-6)
    # hard labels (a run that is not distilled) never see it
    plain = loss(WeightedLoss(None, 0.0), LOGITS, [0, 1])
    assert loss(WeightedLoss(None, 0.0, temperature=2.0), LOGITS, [0, 1]) == pytest.approx(plain)


def test_a_hierarchical_heads_log_probabilities_take_the_same_loss():
    """Its scores are log q already: the softmax in the loss leaves them as they are."""
    log_q = [log_softmax(row) for row in LOGITS]
    by_hand = (soft_ce(LOGITS[0], SOFT[0]) + soft_ce(LOGITS[1], SOFT[1])) / 2
    assert loss(WeightedLoss(None, 0.0), log_q, SOFT) == pytest.approx(by_hand, rel=1e-6)


def test_multilabel_soft_targets_are_binary_cross_entropy_per_class():
    logits, probs = [[2.0, -1.0]], [[0.9, 0.3]]

    def bce(z: float, p: float, t: float = 1.0) -> float:
        q = 1 / (1 + math.exp(-z / t))
        return -(p * math.log(q) + (1 - p) * math.log(1 - q))

    by_hand = (bce(2.0, 0.9) + bce(-1.0, 0.3)) / 2
    assert loss(MultiLabelLoss(None), logits, probs) == pytest.approx(by_hand, rel=1e-6)
    tempered = 9 * (bce(2.0, 0.9, 3) + bce(-1.0, 0.3, 3)) / 2
    assert loss(MultiLabelLoss(None, temperature=3.0), logits, probs) == pytest.approx(tempered, rel=1e-6)


# --------------------------------------------------------------------------------------
# Targets and batches


def test_temper_softens_rows_and_one_leaves_them():
    probs = np.array([[0.7, 0.2, 0.1], [0.98, 0.01, 0.01]])
    assert temper(probs, 1.0, False) is probs
    softer = temper(probs, 2.0, False)
    expected = np.sqrt(probs) / np.sqrt(probs).sum(axis=1, keepdims=True)  # p^(1/T), renormalised
    np.testing.assert_allclose(softer, expected, rtol=1e-9)
    assert (softer.max(axis=1) < probs.max(axis=1)).all()
    one = temper(np.array([[0.9, 0.2]]), 2.0, True)  # multi-label: each class's sigmoid, its logit halved
    np.testing.assert_allclose(one, [[1 / (1 + math.sqrt(1 / 9)), 1 / (1 + math.sqrt(4))]], rtol=1e-6)


def test_probability_rows_batch_as_floats_and_class_ids_as_before():
    rows = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]], dtype=np.float32)
    batch = collate([EncodedDataset([[3, 4], [5]], rows)[i] for i in (1, 0)])
    assert batch.labels.dtype == torch.float32 and torch.equal(batch.labels, torch.from_numpy(rows[[1, 0]]))
    assert collate([EncodedDataset([[3]], [2])[0]]).labels.dtype == torch.long


def test_the_training_set_holds_the_unlabelled_texts_after_the_training_ones():
    from sentinet.training.teacher import SoftTargets

    record = Record(id="1", text="a", labels={"label": 0})
    data = TrainingData(train=[(record, 0), (record, 1)], dev=[], weights=[2.0, 2.0], description="",
                        sources=[], labels=LabelSet.of([0, 1]))
    rows = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], dtype=np.float32)
    distilled = training_set(data, [[3], [4], [5]], SoftTargets(rows, [["x"]], {}))
    assert len(distilled) == 3 and distilled.weights == [2.0, 2.0, 1.0]
    assert distilled[2][2].tolist() == [0.5, 0.5]
    plain = training_set(data, [[3], [4]], None)
    assert plain.labels == [0, 1] and plain.weights == [2.0, 2.0]


def test_the_ensembles_columns_are_put_in_the_runs_class_order():
    assert _class_order(LabelSet.of([1, -1, 0]), LabelSet.of([-1, 0, 1]), Path("e")) == [1, 2, 0]
    with pytest.raises(SentinetError, match="must be one label set"):
        _class_order(LabelSet.of(["a", "b"]), LabelSet.of(["a", "c"]), Path("e"))
    with pytest.raises(SentinetError, match="multi-label"):
        _class_order(LabelSet.of(["a", "b"], True), LabelSet.of(["a", "b"]), Path("e"))


def test_the_comparison_line_and_the_ensembles_dev_scores(tmp_path):
    best = {"metric": "macro_f1", "score": 0.8, "macro_f1": 0.8}
    scored = {"from": "/e", "ensemble_dev": {"metric": "macro_f1", "score": 0.85, "macro_f1": 0.85}}
    assert comparison(best, scored) == "dev macro-F1: distilled 0.8000 vs ensemble 0.8500 (-0.0500), distilled from /e"
    unscored = {"from": "/e", "ensemble_dev": None, "ensemble_dev_note": "not scored on dev (x)"}
    assert comparison(best, unscored) == "dev macro-F1: distilled 0.8000; the ensemble /e was not scored on dev (x)"
    rundir.write_metrics(tmp_path, {"folds": 3, "ensemble": {"score": 0.7}})
    assert ensemble_dev(tmp_path)["ensemble_dev"] == {"score": 0.7}
    assert "out-of-fold over 3 folds" in ensemble_dev(tmp_path)["ensemble_dev_note"]


# --------------------------------------------------------------------------------------
# What is refused before anything is read


@pytest.mark.parametrize("make, says", [
    (lambda p: p / "missing", "no such ensemble directory"),
    (lambda p: _file(p / "model.tar.gz"), "an export archive"),
    (lambda p: _file(p / "run" / rundir.CONFIG).parent, "a single run"),
    (lambda p: _file(p / "folder" / "notes.txt").parent, "not an ensemble directory"),
    (lambda p: _incomplete(p / "group"), "an incomplete ensemble"),
])
def test_only_a_finished_ensemble_teaches(tmp_path, make, says):
    with pytest.raises(SentinetError, match=says):
        check_teacher(make(tmp_path))


def test_without_a_teacher_there_is_nothing_to_distil():
    config = from_dict({"train": {"distill": {"temperature": 2.0}}})
    said: list[str] = []
    assert soft_targets(config, None, str.split, said.append) is None
    assert said == ["train.distill: temperature and unlabeled apply only with train.distill.teacher: not used"]
    assert soft_targets(from_dict({}), None, str.split, said.append) is None and len(said) == 1
    assert from_dict({}).train.distill.teacher is None
    assert build_loss(config.train, [0, 1], LabelSet.of([0, 1])).temperature == 1.0  # hard labels: no temperature


def _file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x", encoding="utf-8")
    return path


def _incomplete(path: Path) -> Path:
    _file(path / rundir.ENSEMBLE).write_text(json.dumps({"members": ["seed1"]}), encoding="utf-8")
    rundir.mark(path, "interrupted")
    return path
