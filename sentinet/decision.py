"""The decision rule: argmax of log-probabilities plus a per-class bias.

F-macro scores only the positive and negative classes, and the rare positive class counts
as much as the frequent negative one, so plain argmax is rarely the F-macro-optimal rule.
``tune_bias`` searches biases for negative and positive (neutral stays 0) on dev data;
the result is saved with the run and applied by eval and predict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sentinet.data.labels import LABELS

NO_BIAS = (0.0, 0.0, 0.0)


def decide(probs: np.ndarray, bias: Sequence[float] = NO_BIAS) -> list[int]:
    """Labels (-1/0/1) from class probabilities [N, 3] under a bias on the log scale."""
    scores = np.log(np.clip(probs, 1e-12, 1.0)) + np.asarray(bias, dtype=np.float64)
    return [LABELS[i] for i in scores.argmax(axis=1)]


def tune_bias(probs: np.ndarray, gold: Sequence[Mapping[str, int]],
              grid: np.ndarray | None = None) -> tuple[tuple[float, float, float], float]:
    """The (negative, 0, positive) bias with the best F-macro on (probs, gold), and that score.

    Ties keep the bias closest to zero, so without a real gain the rule stays argmax.
    The search scores ~1,700 rules, so it counts TP/FP/FN with numpy over the (tweet,
    company) pairs instead of calling sklearn each time; the result is re-checked with
    the official metric.
    """
    from sentinet.metrics import sentirueval_scores  # sklearn: only when tuning

    grid = np.round(np.arange(-2.0, 2.0001, 0.1), 2) if grid is None else grid
    tweet = np.array([i for i, labels in enumerate(gold) for _ in labels], dtype=np.int64)
    truth = np.array([v for labels in gold for v in labels.values()], dtype=np.int64)
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    best_bias, best = NO_BIAS, _f_macro(truth, np.asarray(LABELS)[logp.argmax(1)][tweet])
    for b_neg in grid:
        for b_pos in grid:
            bias = np.array([b_neg, 0.0, b_pos])
            score = _f_macro(truth, np.asarray(LABELS)[(logp + bias).argmax(1)][tweet])
            closer = abs(b_neg) + abs(b_pos) < abs(best_bias[0]) + abs(best_bias[2])
            if score > best + 1e-9 or (abs(score - best) <= 1e-9 and closer):
                best_bias, best = (float(b_neg), 0.0, float(b_pos)), score
    return best_bias, sentirueval_scores(gold, decide(probs, best_bias))["f_macro"]


def _f_macro(truth: np.ndarray, pred: np.ndarray) -> float:
    """Mean F1 of classes -1 and 1 (sklearn's zero_division=0 convention)."""
    f1s = []
    for c in (-1, 1):
        tp = np.sum((pred == c) & (truth == c))
        denom = np.sum(pred == c) + np.sum(truth == c)
        f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s))
