"""Where dev data comes from: random, near-duplicate-grouped or temporal splits, and k folds.

The SentiRuEval test sets were written a year after the training tweets, so a random dev set
(same weeks, same news, same retweets) overstates what a model will score on them. A
temporal split trains on the past and scores on the latest tweets, the way the model will be
used; grouped splits keep retweets and reposts of one text on one side.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from sentinet.config.schema import DataConfig, parse_date
from sentinet.labels import tweet_label
from sentinet.data.readers import Record
from sentinet.errors import SentinetError


@dataclass
class Split:
    train: list[Record]
    dev: list[Record]
    description: str  # for the run log: which split, and for temporal ones which periods
    dev_period: tuple[float, float] | None = None  # temporal: first and last dev time


def carve(records: Sequence[Record], d: DataConfig) -> Split:
    """The dev part of ``records`` as ``data`` configures it: fold ``d.fold`` of ``d.folds``,
    or one random / grouped / temporal split."""
    records = list(records)
    if d.folds:
        parts = fold_indices(records, d.folds, d.split, d.split_seed)
        train_idx, dev_idx = parts[d.fold]
        split = _indexed(records, train_idx, dev_idx, f"fold {d.fold + 1}/{d.folds} ({d.split})")
    elif d.split == "temporal":
        split = temporal_split(records, d.val_fraction, d.dev_from)
    else:
        train, dev = split_dev(records, d.val_fraction, d.split_seed, grouped=d.split == "grouped")
        split = Split(train, dev, f"{d.split} split, {len(dev) / len(records):.0%} dev")
    if d.split == "temporal":
        times = [record_time(r) for r in split.dev]
        split.dev_period = (min(times), max(times))
        split.description += f": train {period(split.train)}, dev {period(split.dev)}"
    return split


def _indexed(records: list[Record], train_idx, dev_idx, description: str) -> Split:
    return Split([records[i] for i in train_idx], [records[i] for i in dev_idx], description)


# --------------------------------------------------------------------------------------
# Random and grouped


def strata(records: Sequence[Record]) -> list[str]:
    """Tweet label per record (conflicting tweets form their own stratum); strata too rare
    for sklearn (one member) join the commonest."""
    labels = [str(tweet_label(r.labels, "drop")) for r in records]
    counts = Counter(labels)
    common = counts.most_common(1)[0][0]
    return [s if counts[s] >= 2 else common for s in labels]


def split_dev(records: Sequence[Record], fraction: float, seed: int,
              grouped: bool = False) -> tuple[list, list]:
    """Seeded split stratified by tweet label.

    ``grouped`` keeps near-duplicates (same text once URLs, mentions, numbers and
    punctuation are ignored) on one side, using sklearn's StratifiedGroupKFold with
    round(1 / fraction) folds: dev is one fold, so its size is the nearest 1/k.
    """
    _check_fraction(fraction)
    records = list(records)
    try:
        if not grouped:
            return train_test_split(records, test_size=fraction, random_state=seed, stratify=strata(records))
        folds = StratifiedGroupKFold(n_splits=max(2, round(1 / fraction)), shuffle=True, random_state=seed)
        train_idx, dev_idx = next(folds.split(records, strata(records), groups=groups(records)))
    except ValueError as exc:
        raise SentinetError(f"cannot carve a {fraction:.0%} dev split: {exc}") from None
    return [records[i] for i in train_idx], [records[i] for i in dev_idx]


def _check_fraction(fraction: float) -> None:
    if not 0 < fraction < 1:
        raise SentinetError(f"data.val_fraction: {fraction} must be between 0 and 1")


_LINKS = re.compile(r"https?://\S+|www\.\S+|@\w+")
_NOT_LETTERS = re.compile(r"[\W\d_]+")


def duplicate_key(text: str) -> str:
    """What stays of a tweet once URLs, mentions, numbers and punctuation are ignored:
    retweets and reposted news headlines share it."""
    text = _LINKS.sub(" ", text.lower().replace("ё", "е"))
    return " ".join(_NOT_LETTERS.sub(" ", text).split()).removeprefix("rt ")


def groups(records: Sequence[Record]) -> list[str]:
    return [duplicate_key(r.text) for r in records]


# --------------------------------------------------------------------------------------
# Temporal


def record_time(record: Record) -> float:
    """Unix seconds of a record's date, or a one-line error naming the file and the tweet."""
    where = f"{record.source or 'data'}: id {record.id!r}"
    if record.date is None or not str(record.date).strip():
        raise SentinetError(f"{where}: no date, but data.split is temporal (set data.date_column "
                            "to the column holding unix time or ISO dates)")
    return parse_date(record.date, f"{where}: date")


def temporal_split(records: Sequence[Record], fraction: float,
                   dev_from: str | None = None) -> Split:
    """Dev = tweets from ``dev_from`` on, or else the latest ``fraction`` of tweets by date
    (ties broken by position in the file, so the split is deterministic)."""
    times = [record_time(r) for r in records]
    order = sorted(range(len(records)), key=lambda i: (times[i], i))
    if dev_from is not None:
        start = parse_date(dev_from, "data.dev_from")
        dev_idx = [i for i in order if times[i] >= start]
        how = f"temporal split, dev from {dev_from}"
    else:
        _check_fraction(fraction)
        dev_idx = order[len(order) - max(1, round(fraction * len(order))):]
        how = f"temporal split, latest {fraction:.0%} dev"
    if not dev_idx or len(dev_idx) == len(records):
        side = "no" if not dev_idx else "every"
        raise SentinetError(f"{how}: {side} tweet falls in the dev period "
                            f"(the data spans {period(records)})")
    dev_set = set(dev_idx)
    return _indexed(list(records), [i for i in order if i not in dev_set], dev_idx, how)


def period(records: Sequence[Record]) -> str:
    times = [record_time(r) for r in records]
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))  # noqa: E731
    return f"{day(min(times))}..{day(max(times))} ({len(records)} tweets)"


# --------------------------------------------------------------------------------------
# Folds


def fold_indices(records: Sequence[Record], k: int, split: str, seed: int) -> list[tuple[list, list]]:
    """(train indices, dev indices) for each of ``k`` folds. random: stratified folds;
    grouped: stratified folds that keep near-duplicates together; temporal: k consecutive
    periods of equal tweet counts (each period is dev once, the others train)."""
    n = len(records)
    if k > n:
        raise SentinetError(f"data.folds: {k} folds need at least {k} tweets, got {n}")
    if split == "temporal":
        times = [record_time(r) for r in records]
        order = np.array(sorted(range(n), key=lambda i: (times[i], i)))
        blocks = np.array_split(order, k)
        return [(sorted(np.concatenate(blocks[:i] + blocks[i + 1:]).tolist()), sorted(b.tolist()))
                for i, b in enumerate(blocks)]
    y = strata(records)
    try:
        if split == "grouped":
            folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            parts = folds.split(records, y, groups=groups(records))
        else:
            parts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(records, y)
        return [(a.tolist(), b.tolist()) for a, b in parts]
    except ValueError as exc:
        raise SentinetError(f"cannot make {k} {split} folds: {exc}") from None
