"""The official SentiRuEval-2016 metric, plus the usual 3-class summaries.

Scoring is over (tweet, company) pairs: a tweet's single prediction counts once for every
company it mentions that carries a gold label. F1 is computed for the positive and the
negative class; F-macro is their mean, F-micro pools their TP/FP/FN. Neutral is predicted
but not scored, so predicting everything neutral scores 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score

from sentinet.data.labels import CLASS_NAMES, LABELS


def pairs(gold: Sequence[Mapping[str, int]], pred: Sequence[int]) -> tuple[list[int], list[int]]:
    """Expand per-tweet predictions to one (gold, predicted) label per labelled company."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold records but {len(pred)} predictions")
    y_true, y_pred = [], []
    for labels, p in zip(gold, pred):
        for value in labels.values():
            y_true.append(value)
            y_pred.append(p)
    return y_true, y_pred


def sentirueval_scores(gold: Sequence[Mapping[str, int]], pred: Sequence[int]) -> dict:
    """f_pos, f_neg, f_macro (official), f_micro, and the number of scored pairs."""
    y_true, y_pred = pairs(gold, pred)
    f_neg, f_pos = f1_score(y_true, y_pred, labels=[-1, 1], average=None, zero_division=0)
    f_micro = f1_score(y_true, y_pred, labels=[-1, 1], average="micro", zero_division=0)
    return {
        "f_macro": float((f_pos + f_neg) / 2),
        "f_micro": float(f_micro),
        "f_pos": float(f_pos),
        "f_neg": float(f_neg),
        "pairs": len(y_true),
    }


def full_report(gold: Sequence[Mapping[str, int]], pred: Sequence[int]) -> dict:
    """Official scores plus 3-class macro-F1, accuracy, confusion matrix and sklearn's report."""
    y_true, y_pred = pairs(gold, pred)
    scores = sentirueval_scores(gold, pred)
    scores["macro_f1_3class"] = float(
        f1_score(y_true, y_pred, labels=list(LABELS), average="macro", zero_division=0)
    )
    scores["accuracy"] = sum(t == p for t, p in zip(y_true, y_pred)) / max(len(y_true), 1)
    scores["confusion"] = confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist()
    scores["report"] = classification_report(
        y_true, y_pred, labels=list(LABELS), target_names=list(CLASS_NAMES),
        digits=4, zero_division=0,
    )
    return scores


def epoch_scores(gold: Sequence[Mapping[str, int]], probs: np.ndarray, pred: Sequence[int]) -> dict:
    """What a training curve shows per epoch: the official scores, F1 of every class over
    (tweet, company) pairs, and the dev loss (cross-entropy of the tweet-level label, for
    tweets whose companies agree)."""
    y_true, y_pred = pairs(gold, pred)
    per_class = f1_score(y_true, y_pred, labels=list(LABELS), average=None, zero_division=0)
    scores = sentirueval_scores(gold, pred)
    scores.update({f"f1_{name}": float(f) for name, f in zip(CLASS_NAMES, per_class)})
    scores["dev_loss"] = dev_loss(gold, probs)
    return scores


def dev_loss(gold: Sequence[Mapping[str, int]], probs: np.ndarray) -> float:
    rows = [(i, LABELS.index(set(g.values()).pop())) for i, g in enumerate(gold) if len(set(g.values())) == 1]
    if not rows:
        return float("nan")
    index, target = zip(*rows)
    picked = np.asarray(probs)[list(index), list(target)]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
