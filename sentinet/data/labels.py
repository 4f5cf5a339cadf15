"""Labels: -1/0/1 ↔ class ids and the tweet-level training label rule.

SentiRuEval labels (tweet, company) pairs; the model sees one label per tweet. When all
companies a tweet mentions agree, that is its label; otherwise ``data.conflict_policy``:
``drop`` leaves the tweet out of training, ``majority`` takes the most frequent label
(ties are dropped), ``neutral`` labels it 0. Evaluation always scores every pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

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


def require_labels(records: Sequence[Record], path: str) -> None:
    if not any(r.labels for r in records):
        raise SentinetError(f"{path}: no record carries a label")
