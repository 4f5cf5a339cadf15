"""The decision rule: argmax of log-probabilities plus a per-class bias.

The official F-macro scores only the positive and negative classes, and the rare positive
class counts as much as the frequent negative one, so plain argmax is rarely the
F-macro-optimal rule. ``tune_bias`` searches biases for negative and positive (neutral
stays 0) on dev data; the result is saved with the run and applied by eval and predict.
Other label sets keep plain argmax (there is no official pair of classes to favour).

A multi-label run's rule is one probability threshold per class instead: a text gets every
class whose probability reaches its threshold (0.5 until ``tune_thresholds`` chose them on
dev). The same ``rule`` argument carries either, as the run's label set says which it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sentinet.labels import Label, LabelSet

Bias = tuple[float, ...]


def no_bias(labels: LabelSet) -> Bias:
    return (0.0,) * len(labels)


DEFAULT_THRESHOLD = 0.5
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def decide(probs: np.ndarray, labels: LabelSet, bias: Sequence[float] | None = None) -> list[Label]:
    """Labels from class probabilities [N, classes] under a bias on the log scale; for a
    multi-label run, label tuples under per-class thresholds (``bias``: the thresholds)."""
    if labels.multilabel:
        return label_sets(probs, labels, bias)
    scores = np.log(np.clip(probs, 1e-12, 1.0))
    if bias is not None:
        scores = scores + np.asarray(bias, dtype=np.float64)
    return [labels.values[i] for i in scores.argmax(axis=1)]


def tune_bias(probs: np.ndarray, gold: Sequence[Mapping[str, Label]], labels: LabelSet,
              grid: np.ndarray | None = None) -> tuple[Bias, float]:
    """The bias (non-zero only on negative and positive) with the best official F-macro on
    (probs, gold), and that score. Without SentiRuEval labels: no bias, and its score.

    Ties keep the bias closest to zero, so without a real gain the rule stays argmax.
    The search scores ~1,700 rules, so it counts TP/FP/FN with numpy over the (tweet,
    company) pairs instead of calling sklearn each time; the result is re-checked with
    the official metric.
    """
    from sentinet.evaluation.metrics import scores  # sklearn: only when tuning

    roles = labels.sentiment
    if roles is None:
        return no_bias(labels), scores(gold, decide(probs, labels), labels)["score"]
    neg, pos = roles[-1], roles[1]
    grid = np.round(np.arange(-2.0, 2.0001, 0.1), 2) if grid is None else grid
    tweet = np.array([i for i, g in enumerate(gold) for _ in g], dtype=np.int64)
    truth = np.array([labels.to_class(v) for g in gold for v in g.values()], dtype=np.int64)
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    best_bias, best = no_bias(labels), _f_macro(truth, logp.argmax(1)[tweet], neg, pos)
    for b_neg in grid:
        for b_pos in grid:
            bias = np.zeros(len(labels))
            bias[neg], bias[pos] = b_neg, b_pos
            score = _f_macro(truth, (logp + bias).argmax(1)[tweet], neg, pos)
            closer = abs(b_neg) + abs(b_pos) < abs(best_bias[neg]) + abs(best_bias[pos])
            if score > best + 1e-9 or (abs(score - best) <= 1e-9 and closer):
                best_bias, best = tuple(float(b) for b in bias), score
    return best_bias, scores(gold, decide(probs, labels, best_bias), labels, "sentirueval")["score"]


def label_sets(probs: np.ndarray, labels: LabelSet, thresholds: Sequence[float] | float | None = None) -> list[tuple]:
    """Each row's classes whose probability reaches its threshold, in class order."""
    cut = DEFAULT_THRESHOLD if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    hot = np.asarray(probs) >= cut
    return [tuple(labels.values[j] for j in np.flatnonzero(row)) for row in hot]


def tune_thresholds(probs: np.ndarray, gold: Sequence[Mapping], labels: LabelSet,
                    grid: np.ndarray = THRESHOLD_GRID) -> tuple[float, ...]:
    """Per class, the threshold with the best F1 of that class on (probs, gold); a tie keeps
    the one nearest 0.5, and a class dev never shows keeps 0.5."""
    from sentinet.evaluation.multilabel import gold_sets, indicator

    truth = indicator(gold_sets(gold), labels).astype(bool)
    probs = np.asarray(probs)
    chosen = []
    for c in range(len(labels)):
        best, best_f1 = DEFAULT_THRESHOLD, -1.0
        if truth[:, c].any():
            for t in sorted(grid, key=lambda t: abs(t - DEFAULT_THRESHOLD)):
                hit = probs[:, c] >= t
                tp = np.sum(hit & truth[:, c])
                f1 = 2 * tp / (hit.sum() + truth[:, c].sum())
                if f1 > best_f1 + 1e-12:
                    best, best_f1 = float(t), f1
        chosen.append(best)
    return tuple(chosen)


def describe_thresholds(thresholds: Sequence[float], labels: LabelSet) -> str:
    """"praise 0.35, question 0.5": each class's threshold, for logs."""
    return ", ".join(f"{name} {t:g}" for name, t in zip(labels.names, thresholds))


def _f_macro(truth: np.ndarray, pred: np.ndarray, negative: int = -1, positive: int = 1) -> float:
    """Mean F1 of the negative and positive classes (sklearn's zero_division=0 convention)."""
    f1s = []
    for c in (negative, positive):
        tp = np.sum((pred == c) & (truth == c))
        denom = np.sum(pred == c) + np.sum(truth == c)
        f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s))


def describe_bias(bias: Sequence[float], labels: LabelSet) -> str:
    """"negative +0.3, positive +0.8": the non-zero biases, for logs."""
    parts = [f"{name} {b:+.1f}" for name, b in zip(labels.names, bias) if b]
    return ", ".join(parts) or "none (argmax)"
