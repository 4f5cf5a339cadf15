"""Multi-label scores, thresholds and loss on hand-made examples whose numbers are worked out
by hand (tests/stories/test_multilabel.py runs the whole thing on a trained model)."""

from __future__ import annotations

import numpy as np
import pytest

from sentinet.evaluation.decision import decide, describe_thresholds, label_sets, tune_thresholds
from sentinet.evaluation.metrics import full_report, scores
from sentinet.evaluation.multilabel import indicator, multilabel_scores, samples_f1
from sentinet.labels import LabelSet

ABC = LabelSet(("a", "b", "c"), multilabel=True)

# Four texts. Per class: a is right twice (F1 1); b is found once of twice (P 1, R 1/2, F1 2/3);
# c is found once, and once where it is not (P 1/2, R 1, F1 2/3). Pooled: 4 right, 1 extra,
# 1 missed (micro P = R = F1 = 4/5). Per text F1: 2/3, 2/3, 1 (both empty), 1. Exact sets: 3 and 4.
GOLD = [{"label": ("a", "b")}, {"label": ("b",)}, {"label": ()}, {"label": ("a", "c")}]
PRED = [("a",), ("b", "c"), (), ("a", "c")]


def test_multilabel_scores_by_hand():
    got = multilabel_scores(GOLD, PRED, ABC)
    assert got["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert got["micro_f1"] == pytest.approx(4 / 5)
    assert got["samples_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1 + 1) / 4)
    assert got["weighted_f1"] == pytest.approx((2 * 1 + 2 * 2 / 3 + 1 * 2 / 3) / 5)  # supports 2, 2, 1
    assert got["accuracy"] == pytest.approx(2 / 4)
    assert got["labels_per_text"] == pytest.approx(5 / 4)
    assert got["pairs"] == got["items"] == 4
    assert "macro_f1_left_out" not in got


def test_metric_picks_the_score_and_gold_order_does_not_matter():
    for metric, key in (("micro_f1", "micro_f1"), ("samples_f1", "samples_f1"), ("macro_f1", "macro_f1"),
                        ("accuracy", "accuracy"), ("auto", "macro_f1")):
        got = scores(GOLD, PRED, ABC, metric)
        assert got["score"] == got[key]
    swapped = [{"label": tuple(reversed(g["label"]))} for g in GOLD]  # a set: written in any order
    assert multilabel_scores(swapped, PRED, ABC) == multilabel_scores(GOLD, PRED, ABC)


def test_macro_f1_leaves_out_a_class_neither_side_has():
    got = multilabel_scores([{"label": ("a",)}, {"label": ()}], [("a",), ()], ABC)
    assert got["macro_f1"] == 1.0 and got["macro_f1_left_out"] == ["b", "c"]


def test_samples_f1_counts_two_empty_sets_as_agreement():
    none = np.zeros((2, 3), dtype=np.int8)
    assert samples_f1(none, none) == 1.0
    one = np.array([[1, 0, 0], [0, 0, 0]], dtype=np.int8)
    assert samples_f1(one, none) == pytest.approx(0.5)  # text 1 missed its label (0), text 2 agrees (1)
    assert samples_f1(none, one) == pytest.approx(0.5)
    assert samples_f1(np.zeros((0, 3), dtype=np.int8), np.zeros((0, 3), dtype=np.int8)) == 0.0
    every = multilabel_scores([{"label": ()}] * 3, [()] * 3, ABC)
    assert every["samples_f1"] == 1.0 and every["accuracy"] == 1.0 and every["micro_f1"] == 0.0


def test_full_report_has_each_class_and_the_samples_line_as_samples_f1_counts():
    report = full_report(GOLD, PRED, ABC, "macro_f1")
    assert report["f1_a"] == pytest.approx(1) and report["f1_b"] == pytest.approx(2 / 3)
    assert report["f1_c"] == pytest.approx(2 / 3)
    assert report["classes"] == ["a", "b", "c"] and report["top_confusions"] == []
    (samples,) = [line for line in report["report"].splitlines() if line.strip().startswith("samples avg")]
    # per text precision 1, 1/2, 1 (nothing predicted, nothing to find), 1; recall 1/2, 1, 1, 1
    assert samples.split()[2:5] == ["0.8750", "0.8750", "0.8333"]


def test_indicator_rows():
    assert indicator(PRED, ABC).tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0], [1, 0, 1]]


# --------------------------------------------------------------------------------------
# Decisions


PROBS = np.array([[0.6, 0.4, 0.5], [0.1, 0.2, 0.3]])


def test_label_sets_take_every_class_at_its_threshold():
    assert label_sets(PROBS, ABC) == [("a", "c"), ()]  # 0.5 for every class; 0.5 itself counts
    assert label_sets(PROBS, ABC, (0.7, 0.3, 0.5)) == [("b", "c"), ()]
    assert label_sets(PROBS, ABC, 0.2) == [("a", "b", "c"), ("b", "c")]
    assert decide(PROBS, ABC, (0.7, 0.3, 0.5)) == label_sets(PROBS, ABC, (0.7, 0.3, 0.5))
    assert label_sets(np.empty((0, 3)), ABC) == []


def test_tune_thresholds_finds_the_best_f1_of_each_class():
    # a: positives at 0.9, 0.7, 0.42 and negatives at 0.36, 0.2, 0.1: only 0.4 on the grid
    #    separates them (0.35 lets 0.36 in: F1 6/7; 0.45 loses 0.42: F1 4/5).
    # b: never in gold: keeps 0.5.
    # c: a positive at 0.3 and negatives at 0.2 and 0.1: 0.25 and 0.3 both separate them; the
    #    tie goes to the one nearest 0.5.
    probs = np.array([[0.9, 0.9, 0.3], [0.7, 0.1, 0.2], [0.42, 0.6, 0.1],
                      [0.36, 0.1, 0.1], [0.2, 0.1, 0.1], [0.1, 0.1, 0.1]])
    gold = [{"label": ("a", "c")}, {"label": ("a",)}, {"label": ("a",)}, {"label": ()}, {"label": ()},
            {"label": ()}]
    thresholds = tune_thresholds(probs, gold, ABC)
    assert thresholds == (0.4, 0.5, 0.3)
    assert decide(probs, ABC, thresholds) == [("a", "b", "c"), ("a",), ("a", "b"), (), (), ()]
    assert describe_thresholds(thresholds, ABC) == "a 0.4, b 0.5, c 0.3"


def test_tune_thresholds_keeps_one_half_when_it_is_as_good():
    probs = np.array([[0.8, 0.8, 0.8], [0.1, 0.1, 0.1]])
    gold = [{"label": ("a", "b", "c")}, {"label": ()}]
    assert tune_thresholds(probs, gold, ABC) == (0.5, 0.5, 0.5)


# --------------------------------------------------------------------------------------
# Loss


def test_multilabel_loss_is_torch_bce_with_unit_weights():
    torch = pytest.importorskip("torch")
    from torch.nn import functional as F

    from sentinet.config.schema import TrainConfig
    from sentinet.training.optim import MultiLabelLoss, build_loss

    logits = torch.tensor([[2.0, -1.0, 0.5], [-0.3, 0.8, -2.0], [0.0, 0.0, 0.0], [1.5, -0.5, 3.0]])
    targets = torch.tensor(indicator(PRED, ABC), dtype=torch.float32)
    expected = F.binary_cross_entropy_with_logits(logits, targets)
    assert MultiLabelLoss(None)(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    ones = torch.ones(4)
    assert MultiLabelLoss(None)(logits, targets, ones).item() == pytest.approx(expected.item(), rel=1e-6)
    loss = build_loss(TrainConfig(), [tuple(row) for row in targets.tolist()], ABC)
    assert isinstance(loss, MultiLabelLoss) and loss.bce.pos_weight is None
    assert loss(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    # per-text weights: a weighted mean of each text's mean over classes
    per_text = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=1)
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    assert loss(logits, targets, w).item() == pytest.approx(((per_text * w).sum() / w.sum()).item(), rel=1e-6)


def test_balanced_positive_weights_are_negatives_over_positives():
    torch = pytest.importorskip("torch")
    from torch.nn import functional as F

    from sentinet.config.schema import TrainConfig
    from sentinet.errors import SentinetError
    from sentinet.training.optim import build_loss

    # 4 texts: a in 2 (2 / 2 = 1), b in 1 (3 / 1 = 3), c in none (4 / max(0, 1) = 4)
    targets = [(1.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
    loss = build_loss(TrainConfig(class_weights="balanced"), targets, ABC)
    assert loss.bce.pos_weight.tolist() == [1.0, 3.0, 4.0]
    logits = torch.tensor([[0.3, -1.0, 0.2], [1.0, 0.5, -0.4], [-2.0, 0.1, 0.0], [0.7, -0.3, 1.1]])
    y = torch.tensor(targets)
    expected = F.binary_cross_entropy_with_logits(logits, y, pos_weight=torch.tensor([1.0, 3.0, 4.0]))
    assert loss(logits, y).item() == pytest.approx(expected.item(), rel=1e-6)
    given = build_loss(TrainConfig(class_weights=[2.0, 1.0, 0.5]), targets, ABC)
    assert given.bce.pos_weight.tolist() == [2.0, 1.0, 0.5]
    with pytest.raises(SentinetError, match="2 weights for the 3 classes"):
        build_loss(TrainConfig(class_weights=[2.0, 1.0]), targets, ABC)
