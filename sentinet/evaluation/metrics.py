"""Scores: the official SentiRuEval-2016 metric for SentiRuEval labels, and macro-F1,
weighted F1 and accuracy for any label set.

Scoring is over (tweet, company) pairs: a tweet's single prediction counts once for every
company it mentions that carries a gold label (single-label formats have one "company").

SentiRuEval: F1 is computed for the positive and the negative class; ``f_macro`` is their
mean, ``f_micro`` pools their TP/FP/FN. Neutral is predicted but not scored, so predicting
everything neutral scores 0. Those keys exist only for SentiRuEval labels (-1/0/1 or
negative/neutral/positive); every label set gets ``macro_f1``, ``weighted_f1`` and ``accuracy``.

``train.metric`` picks the one that selects epochs and models: ``score`` holds its value and
``metric`` its name (``auto``: the official metric for SentiRuEval labels, else macro-F1).

Multi-label runs (sentinet.evaluation.multilabel) are scored per text and class: micro-F1
over every (text, class) decision, macro-F1 over classes, samples-F1 per text, weighted F1,
and accuracy as the share of texts whose label set is exactly right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from sentinet.errors import SentinetError
from sentinet.labels import Label, LabelSet
from sentinet.evaluation.tables import mean_std

KEYS = {"sentirueval": "f_macro", "macro_f1": "macro_f1", "weighted_f1": "weighted_f1", "accuracy": "accuracy",
        "micro_f1": "micro_f1", "samples_f1": "samples_f1"}
NAMES = {"f_macro": "F-macro", "f_micro": "F-micro", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1",
         "accuracy": "accuracy", "micro_f1": "micro-F1", "samples_f1": "samples-F1"}
# What a log line shows beside the selecting metric
SECOND = {"sentirueval": "f_micro", "macro_f1": "accuracy", "weighted_f1": "macro_f1", "accuracy": "macro_f1",
          "micro_f1": "macro_f1", "samples_f1": "macro_f1"}


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
    from sklearn.metrics import f1_score  # here: report and plots read scores without sklearn

    y_true, y_pred = pairs(gold, pred)
    f_neg, f_pos = f1_score(y_true, y_pred, labels=[negative, positive], average=None, zero_division=0)
    f_micro = f1_score(y_true, y_pred, labels=[negative, positive], average="micro", zero_division=0)
    return {
        "f_macro": float((f_pos + f_neg) / 2),
        "f_micro": float(f_micro),
        "f_pos": float(f_pos),
        "f_neg": float(f_neg),
        "pairs": len(y_true),
    }


def resolve_metric(metric: str, labels: LabelSet) -> str:
    """``train.metric`` made concrete for a label set; the official metric needs its labels."""
    if metric == "auto":
        return "sentirueval" if labels.sentiment is not None else "macro_f1"
    if metric == "sentirueval" and labels.sentiment is None:
        raise SentinetError(f"train.metric: sentirueval scores -1/0/1 (negative/neutral/positive) labels, "
                            f"not {list(labels.values)}; use macro_f1, weighted_f1 or accuracy")
    if metric in ("samples_f1", "micro_f1") and not labels.multilabel:
        raise SentinetError(f"train.metric: {metric} scores the label sets of a multi-label run (model.head: "
                            "multilabel; with one label per text micro-F1 is accuracy); use macro_f1, "
                            "weighted_f1 or accuracy")
    return metric


def scores(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label], labels: LabelSet,
           metric: str = "auto") -> dict:
    """Every headline score, ``score`` (the value of ``metric``) and ``metric`` (its name)."""
    from sklearn.metrics import f1_score

    metric = resolve_metric(metric, labels)
    if labels.multilabel:
        from sentinet.evaluation.multilabel import multilabel_scores

        result = multilabel_scores(gold, pred, labels)
        return {"metric": metric, **result, "score": result[KEYS[metric]]}
    result: dict = {"metric": metric}
    roles = labels.sentiment
    if roles is not None:  # on class ids: gold may spell the labels differently from the run
        as_ids = [{k: labels.to_class(v) for k, v in g.items()} for g in gold]
        result.update(sentirueval_scores(as_ids, [labels.to_class(p) for p in pred], roles[-1], roles[1]))
    y_true, y_pred = class_pairs(gold, pred, labels)
    values = list(range(len(labels)))
    # Macro-F1 averages the classes that occur in gold or in the predictions, as scikit-learn
    # does without `labels`: a class absent from both has no F1 to count (counting it as 0 gave a
    # perfect sample macro-F1 0.667); which classes were left out is said beside the score.
    present = sorted(set(y_true) | set(y_pred))
    result["macro_f1"] = float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
                               if present else 0.0)
    if len(present) < len(values) and present:
        result["macro_f1_left_out"] = [labels.names[i] for i in values if i not in set(present)]
    result["weighted_f1"] = float(f1_score(y_true, y_pred, labels=values, average="weighted", zero_division=0))
    result["accuracy"] = sum(t == p for t, p in zip(y_true, y_pred)) / max(len(y_true), 1)
    result["pairs"], result["items"] = len(y_true), len(gold)
    result["score"] = result[KEYS[metric]]
    return result


def score_of(record: Mapping) -> float:
    """The selecting score of a scores dict; runs written before train.metric have only f_macro."""
    value = record.get("score", record.get("f_macro"))
    return value["mean"] if isinstance(value, Mapping) else value


def headline(record: Mapping, digits: int = 4, sep: str = "  ") -> str:
    """"F-macro 0.6012  F-micro 0.6630": the selecting score and the one worth reading beside it,
    named by what they are (older runs' records: F-macro and F-micro as they were)."""
    metric = record.get("metric")
    if "score" not in record:  # before train.metric: f_macro selected, whatever the labels
        keys = ["f_macro", "f_micro"]
        names = ["macro-F1", "accuracy"] if metric == "macro_f1" else ["F-macro", "F-micro"]
    else:
        second = SECOND[metric]
        if "samples_f1" in record and metric in ("macro_f1", "weighted_f1", "accuracy"):
            second = "micro_f1"  # multi-label: the pooled decisions are worth reading beside
        keys = [KEYS[metric], second]
        names = [NAMES[k] for k in keys]
    parts = []
    for key, name in zip(keys, names):
        value = record.get(key)
        if isinstance(value, Mapping):  # a group summary: mean ± std
            parts.append(f"{name} {value['mean']:.{digits}f} ± {value['std']:.{digits}f}")
        elif value is not None:
            parts.append(f"{name} {value:.{digits}f}")
    return sep.join(parts)


def all_scores(record: Mapping, digits: int = 4) -> str:
    """Every headline score of a report, the selecting one first."""
    keys = [k for k in ("f_macro", "f_micro", "f_pos", "f_neg", "macro_f1", "micro_f1", "samples_f1",
                        "weighted_f1", "accuracy")
            if isinstance(record.get(k), (int, float))]
    first = KEYS.get(record.get("metric", ""))
    if first in keys and "score" in record:
        keys.remove(first)
        keys.insert(0, first)
    names = {**NAMES, "f_pos": "F1+", "f_neg": "F1-"}
    line = "  ".join(f"{names[k]} {record[k]:.{digits}f}" for k in keys)
    if record.get("macro_f1_left_out") and "macro_f1" in keys:
        line += f"  (macro-F1 leaves out {', '.join(map(str, record['macro_f1_left_out']))}: in neither gold nor predictions)"
    return line


def summarise(bests: Sequence[Mapping]) -> dict:
    """Members' best dev scores as mean ± std: ``score`` and every headline key they all have
    (older members: f_macro/f_micro only), with the metric that selected them."""
    keys = ["score", "f_macro", "f_micro", "macro_f1", "micro_f1", "samples_f1", "weighted_f1", "accuracy"]
    summary: dict = {"metric": bests[0].get("metric")} if "score" in bests[0] else {}
    for key in keys:
        values = [score_of(b) if key == "score" else b.get(key) for b in bests]
        if all(isinstance(v, (int, float)) for v in values):
            summary[key] = mean_std(values)
    return summary


def pairs_noun(record: Mapping) -> str:
    """What was scored: (text, entity) pairs when some texts carry several labels, else texts."""
    many = record.get("items", record.get("pairs")) != record.get("pairs")
    return "(tweet, company) pairs" if many else "texts"


def metric_name(record: Mapping) -> str:
    """The selecting metric's name as a person reads it ("F-macro", "weighted-F1")."""
    metric = record.get("metric")
    if "score" in record and metric in KEYS:
        return NAMES[KEYS[metric]]
    return "macro-F1" if metric == "macro_f1" else "F-macro"


# Beyond this many classes the per-class outputs (F1 per class and epoch, the confusion
# matrix, sklearn's report) would grow with the square of the label set: a 5,000-class run
# wrote a 275 MB metrics.json. Such runs keep the headline scores and the top confusions.
PER_CLASS_LIMIT = 50
TOP_CONFUSIONS = 20


def full_report(gold: Sequence[Mapping[str, Label]], pred: Sequence[Label],
                labels: LabelSet = LabelSet.of(None), metric: str = "auto") -> dict:
    """Every headline score, per-class F1, the confusion matrix (rows gold, columns predicted,
    in class order), the most confused class pairs and sklearn's report; over
    PER_CLASS_LIMIT classes, the most frequent confusions instead of the last three."""
    from sklearn.metrics import classification_report, confusion_matrix

    if labels.multilabel:
        from sentinet.evaluation.multilabel import multilabel_report

        return multilabel_report(gold, pred, labels, scores(gold, pred, labels, metric), PER_CLASS_LIMIT)
    y_true, y_pred = class_pairs(gold, pred, labels)
    values = list(range(len(labels)))
    result = scores(gold, pred, labels, metric)
    result["classes"] = list(labels.names)
    result["top_confusions"] = top_confusions(y_true, y_pred, labels)
    result["confused_pairs"] = confused_pairs(y_true, y_pred, labels)
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


def confused_pairs(y_true: Sequence[int], y_pred: Sequence[int], labels: LabelSet, k: int = 3) -> list[list]:
    """The k class pairs most often mistaken for each other, either way round:
    [class a, class b, a→b count, b→a count], most mistakes first."""
    mistakes = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    both = Counter({(min(t, p), max(t, p)): 0 for t, p in mistakes})
    for (t, p), n in mistakes.items():
        both[min(t, p), max(t, p)] += n
    names = labels.names
    ranked = sorted(both.items(), key=lambda x: (-x[1], x[0]))[:k]
    return [[names[a], names[b], mistakes[a, b], mistakes[b, a]] for (a, b), _ in ranked]


def top_confusions(y_true: Sequence[int], y_pred: Sequence[int], labels: LabelSet,
                   k: int = TOP_CONFUSIONS) -> list[list]:
    """The k most frequent (gold, predicted, count) mistakes, most frequent first."""
    mistakes = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    names = labels.names
    return [[names[t], names[p], n] for (t, p), n in sorted(mistakes.items(), key=lambda x: (-x[1], x[0]))[:k]]


def per_class_f1(y_true: Sequence[int], y_pred: Sequence[int], labels: LabelSet) -> dict[str, float]:
    """F1 of every class, keyed f1_<name>, from class-id pairs."""
    from sklearn.metrics import f1_score

    f1 = f1_score(y_true, y_pred, labels=list(range(len(labels))), average=None, zero_division=0)
    return {f"f1_{name}": float(f) for name, f in zip(labels.names, f1)}


def epoch_scores(gold: Sequence[Mapping[str, Label]], probs: np.ndarray, pred: Sequence[Label],
                 labels: LabelSet, metric: str = "auto") -> dict:
    """What a training curve shows per epoch: the headline scores, F1 of every class over
    (tweet, company) pairs, and the dev loss (cross-entropy of the tweet-level label, for
    tweets whose companies agree)."""
    result = scores(gold, pred, labels, metric)
    if labels.multilabel:
        from sentinet.evaluation.multilabel import multilabel_dev_loss, multilabel_f1

        if len(labels) <= PER_CLASS_LIMIT:
            result.update(multilabel_f1(gold, pred, labels))
        result["dev_loss"] = multilabel_dev_loss(gold, probs, labels)
        return result
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
