"""Scores: the official SentiRuEval-2016 metric for SentiRuEval labels, macro-F1 for any set.

Scoring is over (tweet, company) pairs: a tweet's single prediction counts once for every
company it mentions that carries a gold label (single-label formats have one "company").

SentiRuEval: F1 is computed for the positive and the negative class; F-macro is their mean,
F-micro pools their TP/FP/FN. Neutral is predicted but not scored, so predicting
everything neutral scores 0.

Any other label set: ``f_macro`` is macro-F1 over all classes and ``f_micro`` micro-F1
(= accuracy). Either way ``f_macro`` is what training selects on, and ``metric`` says which.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score

from sentinet.labels import Label, LabelSet

OFFICIAL, MACRO_F1 = "sentirueval_f_macro", "macro_f1"


def pairs(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label]) -> tuple[list[Label], list[Label]]:
    """Expand per-tweet predictions to one (gold, predicted) label per labelled company."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold records but {len(pred)} predictions")
    y_true, y_pred = [], []
    for labels, p in zip(gold, pred):
        for value in labels.values():
            y_true.append(value)
            y_pred.append(p)
    return y_true, y_pred


def class_pairs(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label],
                labels: LabelSet) -> tuple[list[int], list[int]]:
    """``pairs`` as class ids: sklearn then never sees a mix of numbers and text."""
    y_true, y_pred = pairs(gold, pred)
    return [labels.to_class(y) for y in y_true], [labels.to_class(y) for y in y_pred]


def sentirueval_scores(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label],
                       negative: Label = -1, positive: Label = 1) -> dict:
    """f_pos, f_neg, f_macro (official), f_micro, and the number of scored pairs."""
    y_true, y_pred = pairs(gold, pred)
    f_neg, f_pos = f1_score(y_true, y_pred, labels=[negative, positive], average=None, zero_division=0)
    f_micro = f1_score(y_true, y_pred, labels=[negative, positive], average="micro", zero_division=0)
    return {
        "metric": OFFICIAL,
        "f_macro": float((f_pos + f_neg) / 2),
        "f_micro": float(f_micro),
        "f_pos": float(f_pos),
        "f_neg": float(f_neg),
        "pairs": len(y_true),
    }


def scores(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label], labels: LabelSet) -> dict:
    """The headline scores of ``labels``' metric (see the module docstring)."""
    roles = labels.sentiment
    if roles is not None:  # on class ids: gold may spell the labels differently from the run
        as_ids = [{k: labels.to_class(v) for k, v in g.items()} for g in gold]
        return sentirueval_scores(as_ids, [labels.to_class(p) for p in pred], roles[-1], roles[1])
    y_true, y_pred = class_pairs(gold, pred, labels)
    values = list(range(len(labels)))
    return {
        "metric": MACRO_F1,
        "f_macro": float(f1_score(y_true, y_pred, labels=values, average="macro", zero_division=0)),
        "f_micro": float(f1_score(y_true, y_pred, labels=values, average="micro", zero_division=0)),
        "pairs": len(y_true),
    }


# Beyond this many classes the per-class outputs (F1 per class and epoch, the confusion
# matrix, sklearn's report) would grow with the square of the label set: a 5,000-class run
# wrote a 275 MB metrics.json. Such runs keep the headline scores and the top confusions.
PER_CLASS_LIMIT = 50
TOP_CONFUSIONS = 20


def full_report(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label],
                labels: LabelSet = LabelSet.of(None)) -> dict:
    """Headline scores plus macro-F1 over all classes, accuracy, weighted F1, per-class F1,
    the confusion matrix (rows gold, columns predicted, in class order) and sklearn's report;
    over PER_CLASS_LIMIT classes, the most frequent confusions instead of the last three."""
    y_true, y_pred = class_pairs(gold, pred, labels)
    values = list(range(len(labels)))
    result = scores(gold, pred, labels)
    result["macro_f1"] = float(f1_score(y_true, y_pred, labels=values, average="macro", zero_division=0))
    result["weighted_f1"] = float(f1_score(y_true, y_pred, labels=values, average="weighted", zero_division=0))
    result["accuracy"] = sum(t == p for t, p in zip(y_true, y_pred)) / max(len(y_true), 1)
    result["classes"] = list(labels.names)
    result["top_confusions"] = top_confusions(y_true, y_pred, labels)
    if len(labels) > PER_CLASS_LIMIT:
        result["report"] = (f"{len(labels)} classes: per-class scores and the confusion matrix are "
                            f"left out beyond {PER_CLASS_LIMIT}; most frequent confusions (gold → predicted: "
                            "pairs): " + "; ".join(f"{g} → {p}: {n}" for g, p, n in result["top_confusions"][:5]))
        return result
    result.update(per_class_f1(y_true, y_pred, labels))
    result["confusion"] = confusion_matrix(y_true, y_pred, labels=values).tolist()
    result["report"] = classification_report(y_true, y_pred, labels=values, target_names=list(labels.names),
                                             digits=4, zero_division=0)
    return result


def top_confusions(y_true: Sequence[int], y_pred: Sequence[int], labels: LabelSet,
                   k: int = TOP_CONFUSIONS) -> list[list]:
    """The k most frequent (gold, predicted, count) mistakes, most frequent first."""
    mistakes = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    names = labels.names
    return [[names[t], names[p], n] for (t, p), n in sorted(mistakes.items(), key=lambda x: (-x[1], x[0]))[:k]]


def per_class_f1(y_true: Sequence[int], y_pred: Sequence[int], labels: LabelSet) -> dict[str, float]:
    """F1 of every class, keyed f1_<name>, from class-id pairs."""
    f1 = f1_score(y_true, y_pred, labels=list(range(len(labels))), average=None, zero_division=0)
    return {f"f1_{name}": float(f) for name, f in zip(labels.names, f1)}


def epoch_scores(gold: Sequence[Mapping[str, Label]], probs: np.ndarray, pred: Sequence[Label],
                 labels: LabelSet) -> dict:
    """What a training curve shows per epoch: the headline scores, F1 of every class over
    (tweet, company) pairs, and the dev loss (cross-entropy of the tweet-level label, for
    tweets whose companies agree)."""
    result = scores(gold, pred, labels)
    if len(labels) <= PER_CLASS_LIMIT:
        result.update(per_class_f1(*class_pairs(gold, pred, labels), labels))
    result["dev_loss"] = dev_loss(gold, probs, labels)
    return result


def dev_loss(gold: Sequence[Mapping[str, Label]], probs: np.ndarray, labels: LabelSet) -> float:
    rows = [(i, labels.to_class(set(g.values()).pop())) for i, g in enumerate(gold) if len(set(g.values())) == 1]
    if not rows:
        return float("nan")
    index, target = zip(*rows)
    picked = np.asarray(probs)[list(index), list(target)]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
