"""Labels: -1/0/1 ↔ class ids, the tweet-level training label rule, the dev split.

SentiRuEval labels (tweet, company) pairs; the model sees one label per tweet. When all
companies a tweet mentions agree, that is its label; otherwise ``data.conflict_policy``:
``drop`` leaves the tweet out of training, ``majority`` takes the most frequent label
(ties are dropped), ``neutral`` labels it 0. Evaluation always scores every pair.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from sentinet.data.readers import Record
from sentinet.errors import SentinetError

LABELS = (-1, 0, 1)  # class id i ↔ label LABELS[i]
CLASS_NAMES = ("negative", "neutral", "positive")


def to_class(label: int) -> int:
    return LABELS.index(label)


def tweet_label(labels: dict[str, int], policy: str) -> int | None:
    """One training label for a tweet, or None when it should not be trained on."""
    values = list(labels.values())
    if not values:
        return None
    if len(set(values)) == 1:
        return values[0]
    if policy == "neutral":
        return 0
    if policy == "majority":
        (top, n), *rest = Counter(values).most_common()
        return None if rest and rest[0][1] == n else top
    return None


def training_pairs(records: Sequence[Record], policy: str) -> list[tuple[Record, int]]:
    """(record, class id) for every record the label rule keeps."""
    pairs = []
    for r in records:
        label = tweet_label(r.labels, policy)
        if label is not None:
            pairs.append((r, to_class(label)))
    return pairs


def split_dev(records: Sequence[Record], fraction: float, seed: int,
              grouped: bool = False) -> tuple[list, list]:
    """Seeded split stratified by tweet label (conflicting tweets form their own stratum).

    ``grouped`` keeps near-duplicates (same text once URLs, mentions, numbers and
    punctuation are ignored) on one side, using sklearn's StratifiedGroupKFold with
    round(1 / fraction) folds: dev is one fold, so its size is the nearest 1/k.
    """
    if not 0 < fraction < 1:
        raise SentinetError(f"data.val_fraction: {fraction} must be between 0 and 1")
    records = list(records)
    strata = [str(tweet_label(r.labels, "drop")) for r in records]
    counts = Counter(strata)
    common = counts.most_common(1)[0][0]
    strata = [s if counts[s] >= 2 else common for s in strata]  # sklearn needs 2 per stratum
    try:
        if not grouped:
            return train_test_split(records, test_size=fraction, random_state=seed, stratify=strata)
        folds = StratifiedGroupKFold(n_splits=max(2, round(1 / fraction)), shuffle=True, random_state=seed)
        train_idx, dev_idx = next(folds.split(records, strata, groups=[duplicate_key(r.text) for r in records]))
    except ValueError as exc:
        raise SentinetError(f"cannot carve a {fraction:.0%} dev split: {exc}") from None
    return [records[i] for i in train_idx], [records[i] for i in dev_idx]


_LINKS = re.compile(r"https?://\S+|www\.\S+|@\w+")
_NOT_LETTERS = re.compile(r"[\W\d_]+")


def duplicate_key(text: str) -> str:
    """What stays of a tweet once URLs, mentions, numbers and punctuation are ignored:
    retweets and reposted news headlines share it."""
    text = _LINKS.sub(" ", text.lower().replace("ё", "е"))
    return " ".join(_NOT_LETTERS.sub(" ", text).split()).removeprefix("rt ")


def require_labels(records: Sequence[Record], path: str) -> None:
    if not any(r.labels for r in records):
        raise SentinetError(f"{path}: no record carries a label")
