"""Training data as a run sees it: the training tweets (from every train file, each with its
weight), the dev records (a dev file, or carved from the first train file by data.split) and
the label set, read and checked before anything is built or written."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentinet.config.schema import Config, DataConfig, train_files
from sentinet.data.readers import Record, detect_data_format, label_column_detail, read_records
from sentinet.data.records import fit_to_run
from sentinet.data.splits import carve, record_time
from sentinet.errors import SentinetError
from sentinet.labels import (
    LabelSet, check_known, label_values, require_labels, training_pairs, unwritable,
)
from sentinet.evaluation.metrics import resolve_metric


@dataclass
class TrainingData:
    """What a run trains and selects on: the training tweets with their class ids, and dev."""

    train: list[tuple[Record, int | tuple]]  # (record, class id) kept by the label rule; multi-label: 0/1 per class
    dev: list[Record]  # every labelled dev record: all its (tweet, company) pairs are scored
    weights: list[float]  # per training tweet: its file's data.train_weights entry
    description: str  # how dev was chosen (and, for temporal splits, which periods)
    sources: list[dict]  # what the run trained on: file, tweets, weight
    labels: LabelSet  # the classes: data.labels, or those found in the data
    # temporal splits: the dev period (first and last time; open-ended without folds), which
    # extra train files and data.unlabeled leave out
    dev_window: tuple[float, float] | None = None


def read_labelled(path: str, d: DataConfig, multilabel: bool = False) -> list[Record]:
    """A train or dev file's records, every one labelled. SentiRuEval XML leaves the companies
    a tweet does not mention NULL; a one-label row (TSV, CSV, JSONL) with an empty or null
    label is a hole in the data, refused rather than silently trained around (a multi-label
    text with none of the classes says so: an empty JSON list)."""
    records = read_records(path, d.format, text_column=d.text_column, label_column=d.label_column,
                           id_column=d.id_column, date_column=d.date_column, quoting=d.quoting,
                           label_separator=d.label_separator)
    format = detect_data_format(Path(path)) if d.format == "auto" else d.format
    fit_to_run(records, format, multilabel, path)
    require_labels(records, path, label_column_detail(path, d.format, d.quoting, d.label_column,
                                                      "set data.label_column"))
    if format != "sentirueval" and (holes := [r for r in records if not r.labels]):
        where = "without a __label__" if format == "fasttext" else f"with an empty label in column {d.label_column!r}"
        none = ' (a text with none of the classes: "label": [])' if multilabel else ""
        raise SentinetError(f"{path}: {len(holes)} row(s) {where} (the first: id {holes[0].id[:40]!r}); label "
                            f"them or remove them{none}")
    return [r for r in records if r.labels]


def load_training_data(config: Config) -> TrainingData:
    """Training tweets and dev records. Dev comes from data.dev or is carved from the first
    train file; further train files only add training tweets, minus (under a temporal split)
    those written in the dev period, which a model of the past could not have seen."""
    d, multilabel = config.data, config.model.head == "multilabel"
    files = train_files(d)
    file_weights = d.train_weights or [1.0] * len(files)
    records = read_labelled(files[0], d, multilabel)
    if d.dev:
        train, dev, description, dev_period = records, read_labelled(d.dev, d, multilabel), f"dev file {d.dev}", None
    else:
        split = carve(records, d)
        train, dev, description, dev_period = split.train, split.dev, split.description, split.dev_period
    parts = [train] + [read_labelled(f, d, multilabel) for f in files[1:]]
    labels = resolve_labels(d, [(files[0], records), *zip(files[1:], parts[1:])]
                            + ([(d.dev, dev)] if d.dev else []), multilabel)
    window = (dev_period[0], dev_period[1] if d.folds else math.inf) if dev_period else None
    pairs, weights, sources = [], [], []
    for i, (path, part, weight) in enumerate(zip(files, parts, file_weights)):
        dropped = 0
        if i and window:
            kept = [r for r in part if not window[0] <= record_time(r) <= window[1]]
            dropped, part = len(part) - len(kept), kept
        kept_pairs = training_pairs(part, d.conflict_policy, labels)
        pairs += kept_pairs
        weights += [weight] * len(kept_pairs)
        sources.append({"path": path, "tweets": len(kept_pairs), "weight": weight,
                        "dropped_in_dev_period": dropped})
    if not pairs:
        raise SentinetError(f"{files[0]}: no tweet left for training after the label rule")
    check_classes_trained(pairs, labels, files[0], d.dev)
    return TrainingData(pairs, dev, weights, description, sources, labels, window)


def check_classes_trained(pairs: list[tuple[Record, int | tuple]], labels: LabelSet, train: str,
                          dev: str | None) -> None:
    """Every class has training tweets: one seen only in dev (or only in data.labels) would be
    a class the model can never learn, scored as if it could; one class alone is no classifier."""
    counts = Counter(_classes(pairs))
    if not counts:
        raise SentinetError(f"{train}: no training text carries any of the labels; nothing to learn")
    if len(counts) < 2 - labels.multilabel:
        (only,) = counts
        raise SentinetError(f"{train}: the training split holds one class ({str(labels.values[only])[:40]!r}); "
                            "a classifier needs at least two classes")
    missing = [str(v)[:40] for i, v in enumerate(labels.values) if not counts[i]]
    if missing:
        where = f"only in {dev}" if dev else "only in the dev split (data.split), or only in data.labels"
        raise SentinetError(f"{train}: no training tweets for label(s) {', '.join(map(repr, missing))} "
                            f"({where}): add training examples of them, or remove them")


def read_unlabeled(d: DataConfig, window: tuple[float, float] | None,
                   paths: Sequence[str] | None = None) -> tuple[list[Record], int]:
    """The texts of data.unlabeled (or of ``paths``: train.distill.unlabeled; each file's format
    from its extension; labels ignored), minus dated ones from the dev ``window``: a model of
    the past has not read the future. Returns them and how many were left out."""
    records = []
    for path in d.unlabeled if paths is None else paths:
        records += read_records(path, "auto", text_column=d.text_column, label_column=d.label_column,
                                id_column=d.id_column, date_column=d.date_column, quoting=d.quoting)
    if window is None:
        return records, 0
    kept = [r for r in records if r.date is None or not window[0] <= record_time(r) <= window[1]]
    return kept, len(records) - len(kept)


def split_warning(config: Config, data: TrainingData) -> str | None:
    """A random (or grouped) dev split of dated tweets measures this period, not the next:
    on SentiRuEval it said 0.72 where next year's test gave 0.53. Said once, in the run log."""
    d = config.data
    if d.dev or d.split == "temporal":
        return None
    dated = sum(r.date is not None for r, _ in data.train)
    if dated < len(data.train) / 2:
        return None
    return (f"data: the training tweets carry dates but data.split is {d.split}: a {d.split} dev "
            "split overstates how well the model will do on a later period (on SentiRuEval by "
            "~0.2 F-macro); for a dev number that predicts next year's, use data.split: temporal, "
            "or --folds K with it (docs/GUIDE.md: 'Dev numbers that predict next year')")


def _classes(pairs: list[tuple[Record, int | tuple]]) -> list[int]:
    """The class of every training pair; a multi-label pair's each of its classes."""
    return [c for _, target in pairs for c in
            ((i for i, hot in enumerate(target) if hot) if isinstance(target, tuple) else (target,))]


def resolve_labels(d: DataConfig, files: list[tuple[str, list[Record]]], multilabel: bool = False) -> LabelSet:
    """data.labels when given (every label in the data must be one of them), else the
    labels the training and dev files hold; none may hold a tab, line break or control
    character (predict's columns are named after them)."""
    _refuse_unwritable(d, files)
    if not d.labels:
        try:
            return LabelSet.from_data((v for _, records in files for r in records for v in label_values(r.labels)),
                                      multilabel)
        except SentinetError as exc:
            names = " and ".join(dict.fromkeys(path for path, _ in files))
            raise SentinetError(f"{names}: {exc}") from None
    labels = LabelSet.of(d.labels, multilabel)
    for path, records in files:
        check_known(records, labels, path)
    return labels


def _refuse_unwritable(d: DataConfig, files: list[tuple[str, list[Record]]]) -> None:
    """A label with a tab or a line break is never meant, and no output could name its column."""
    for value in d.labels or []:
        if unwritable(value):
            raise SentinetError(f"data.labels: label {str(value)[:40]!r} holds a tab, line break or other "
                                "control character: rename it")
    for path, records in files:
        for r in records:
            if bad := next((v for v in label_values(r.labels) if unwritable(v)), None):
                raise SentinetError(f"{path}: id {r.id[:40]!r} has label {bad[:40]!r}, which holds a tab, line "
                                    "break or other control character: rename it")


def log_data(data: TrainingData, log: Callable[[str], None], metric: str = "auto") -> None:
    """What a run trains and selects on, for its log, in the words of its data: tweets and
    (tweet, company) pairs for SentiRuEval labels, texts otherwise."""
    classes = data.labels
    items = "tweets" if classes.sentiment else "texts"
    pairs = sum(len(r.labels) for r in data.dev)
    scored = f" ({pairs} scored dev (tweet, company) pairs)" if pairs != len(data.dev) else ""
    log(f"data: {len(data.train)} training {items}, {len(data.dev)} dev {items}{scored}; {data.description}")
    for source in data.sources if len(data.sources) > 1 else []:
        dropped = source["dropped_in_dev_period"]
        log(f"data: {source['tweets']} training {items} from {source['path']} (weight {source['weight']:g})"
            + (f"; {dropped} from the dev period left out" if dropped else ""))
    counts = Counter(classes.values[c] for c in _classes(data.train))
    selection = {"sentirueval": "the official SentiRuEval F-macro", "macro_f1": "macro-F1 over all classes",
                 "weighted_f1": "weighted F1", "accuracy": "accuracy", "micro_f1": "micro-F1",
                 "samples_f1": "samples-F1"}[resolve_metric(metric, classes)]
    listing = ", ".join(f"{v} ({n})" for v, n in _listed(classes.values, counts))
    log(f"labels: {listing} training {items}; model selection by {selection} (train.metric)")


def _listed(values, counts: Counter, most: int = 20) -> list[tuple]:
    """(label, count) for the log: every class, or past ``most`` classes, the 10 largest
    (a 5,000-class line was 54 KB)."""
    if len(values) <= most:
        return [(v, counts[v]) for v in values]
    return [*counts.most_common(10), (f"... {len(values) - 10:,} more classes", sum(counts.values()) -
                                      sum(n for _, n in counts.most_common(10)))]


def unlabeled_texts(config: Config, data: TrainingData, tokenizer: Callable[[str], list[str]],
                    log: Callable[[str], None]) -> list[list[str]]:
    """data.unlabeled, tokenised: read only when the auxiliary LM objective will use it."""
    if not config.data.unlabeled:
        return []
    if not config.train.aux_lm.weight:
        log("data: data.unlabeled is read only by train.aux_lm, whose weight is 0: not used")
        return []
    records, dropped = read_unlabeled(config.data, data.dev_window)
    tokens = [tokenizer(r.text) for r in records]
    log(f"data: {len(tokens)} unlabelled texts for the auxiliary language model"
        + (f"; {dropped} from the dev period left out" if dropped else ""))
    return tokens


def class_counts(data: TrainingData) -> list[int]:
    """Training tweets per class (what a hierarchical head's tree is built from)."""
    counts = Counter(_classes(data.train))
    return [counts[i] for i in range(len(data.labels))]
