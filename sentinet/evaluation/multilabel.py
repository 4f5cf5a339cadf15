"""Scores of a multi-label run, where each text carries a set of labels (possibly empty).

Every text is one row of 0/1 decisions, one per class. micro-F1 pools the decisions of all
classes; macro-F1 averages the F1 of the classes that occur in gold or in the predictions
(as single-label macro-F1 does, and as scikit-learn does without ``labels``); samples-F1 is
each text's F1 between its gold and predicted sets, averaged (two empty sets agree: 1);
accuracy is the share of texts whose set is exactly right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from sentinet.labels import Label, LabelSet, label_values


def indicator(sets: Sequence[Sequence[Label]], labels: LabelSet) -> np.ndarray:
    """[N, classes] 0/1 rows from label sets."""
    rows = np.zeros((len(sets), len(labels)), dtype=np.int8)
    for i, values in enumerate(sets):
        for c in labels.to_classes(tuple(values)):
            rows[i, c] = 1
    return rows


def gold_sets(gold: Sequence[Mapping[str, object]]) -> list[list[Label]]:
    """Each gold record's labels, as one set."""
    return [label_values(dict(g)) for g in gold]


def multilabel_scores(gold: Sequence[Mapping], pred: Sequence[Sequence[Label]], labels: LabelSet) -> dict:
    """The headline scores of label sets against gold."""
    from sklearn.metrics import f1_score

    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold records but {len(pred)} predictions")
    y_true, y_pred = indicator(gold_sets(gold), labels), indicator(pred, labels)
    present = [c for c in range(len(labels)) if y_true[:, c].any() or y_pred[:, c].any()]
    result: dict = {
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
        if present else 0.0,
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "samples_f1": samples_f1(y_true, y_pred),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "accuracy": float((y_true == y_pred).all(axis=1).mean()) if len(gold) else 0.0,
    }
    if 0 < len(present) < len(labels):
        result["macro_f1_left_out"] = [labels.names[c] for c in range(len(labels)) if c not in present]
    result["labels_per_text"] = float(y_true.sum(axis=1).mean()) if len(gold) else 0.0
    result["pairs"] = result["items"] = len(gold)
    return result


def samples_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-text F1 of the two sets; a text with both sets empty scores 1."""
    if not len(y_true):
        return 0.0
    both = (y_true & y_pred).sum(axis=1)
    sizes = y_true.sum(axis=1) + y_pred.sum(axis=1)
    return float(np.where(sizes == 0, 1.0, 2 * both / np.maximum(sizes, 1)).mean())


def multilabel_f1(gold: Sequence[Mapping], pred: Sequence[Sequence[Label]], labels: LabelSet) -> dict[str, float]:
    """F1 of every class, keyed f1_<name> (what the training curves plot)."""
    from sklearn.metrics import f1_score

    f1 = f1_score(indicator(gold_sets(gold), labels), indicator(pred, labels), average=None, zero_division=0)
    return {f"f1_{name}": float(f) for name, f in zip(labels.names, np.atleast_1d(f1))}


def multilabel_report(gold: Sequence[Mapping], pred: Sequence[Sequence[Label]], labels: LabelSet,
                      result: dict, per_class_limit: int) -> dict:
    """``result`` (the headline scores) with per-class F1 and scikit-learn's report: precision,
    recall, F1 and support of each class, and the micro, macro, weighted and samples averages.
    There is no confusion matrix: a text's classes are decided one by one."""
    from sklearn.metrics import classification_report

    result = {**result, "classes": list(labels.names), "top_confusions": [], "confused_pairs": []}
    if len(labels) > per_class_limit:
        result["report"] = f"{len(labels)} classes: per-class scores are left out beyond {per_class_limit}"
        return result
    result.update(multilabel_f1(gold, pred, labels))
    y_true, y_pred = indicator(gold_sets(gold), labels), indicator(pred, labels)
    report = classification_report(y_true, y_pred, labels=list(range(len(labels))),
                                   target_names=list(labels.names), digits=4, zero_division=0)
    result["report"] = _samples_line(report, y_true, y_pred)
    return result


def _samples_line(report: str, y_true: np.ndarray, y_pred: np.ndarray) -> str:
    """scikit-learn's report with its samples-average line as samples_f1 counts: a text whose
    gold and predicted sets are both empty agrees (1), where zero_division=0 made it 0."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="samples", zero_division=1)
    values = iter(f"{v:.4f}" for v in (p, r, f))
    lines = [re.sub(r"\d\.\d{4}", lambda _: next(values), line, count=3) if line.strip().startswith("samples avg")
             else line for line in report.splitlines()]
    return "\n".join(lines) + ("\n" if report.endswith("\n") else "")


def multilabel_dev_loss(gold: Sequence[Mapping], probs: np.ndarray, labels: LabelSet) -> float:
    """Mean binary cross-entropy of the class probabilities against the gold sets."""
    if not len(gold):
        return float("nan")
    y = indicator(gold_sets(gold), labels).astype(np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
