"""Labels: the run's label set (class id ↔ label value) and the tweet-level training rule.

Any label set works: -1/0/1, binary 0/1, ``positive/negative/neutral/speech/skip``. Labels
come from ``data.labels`` (which also fixes the class order) or from the training data.
Numbers stay numbers (``"1"`` in a TSV is the label 1); everything else is a string. The
label set is saved in the run's config, so eval and predict use the run's own classes.

The official SentiRuEval F-macro needs to know which classes are negative and positive:
``LabelSet.sentiment`` finds them when the set is exactly -1/0/1 or
negative/neutral/positive (any case; neg/neu/pos too). Every other set is scored by
macro-F1 over all its classes.

SentiRuEval labels (tweet, company) pairs; the model sees one label per tweet. When all
companies a tweet mentions agree, that is its label; otherwise ``data.conflict_policy``:
``drop`` leaves the tweet out of training, ``majority`` takes the most frequent label
(ties are dropped), ``neutral`` labels it neutral. Evaluation always scores every pair.

Multi-label runs (``model.head: multilabel``) read several labels per text (a JSON list, several
``__label__`` in a fastText line, ``data.label_separator`` in a TSV/CSV cell): a record's label
is then a tuple of labels, possibly empty, and the training target is one 0/1 per class.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from sentinet.errors import SentinetError

Label = int | str
LabelTuple = tuple[Label, ...]  # a multi-label record's labels (empty: none of the classes)

SENTIMENT: tuple[Label, ...] = (-1, 0, 1)  # runs from before label sets were stored
SENTIMENT_NAMES = ("negative", "neutral", "positive")
_SENTIMENT_WORDS = {"negative": -1, "neg": -1, "neutral": 0, "neu": 0, "positive": 1, "pos": 1}
_INTEGER = re.compile(r"[+-]?\d+")


def normalise(value: object, where: str) -> Label | None:
    """A label value as the run stores it: integers (also spelled ``"1"``, ``"+1"``, ``1.0``)
    become ints, other text is stripped; None for a missing label (empty, NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise SentinetError(f"{where}: label {value!r} is a boolean (YAML reads yes/no/true/false "
                            "as booleans): quote it")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "null"):
            return None
        return int(text) if _INTEGER.fullmatch(text) else text
    raise SentinetError(f"{where}: label {value!r} is neither a number nor text")


@dataclass(frozen=True)
class LabelSet:
    """The classes of a run, in class-id order."""

    values: tuple[Label, ...]
    multilabel: bool = False  # model.head: multilabel: each text has a set of these labels

    def __post_init__(self) -> None:
        if len(self.values) < 2 - self.multilabel:  # one tag, yes or no, is a multi-label task too
            raise SentinetError(f"data.labels: {list(self.values)} must list at least 2 labels")
        if len(set(self.values)) != len(self.values):
            raise SentinetError(f"data.labels: {list(self.values)} lists a label twice")

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, value: object) -> bool:
        return self._lookup(value) is not None

    @cached_property  # computed once: a 5,000-class set looked every label up in O(classes)
    def _index(self) -> dict[Label, int]:
        return {v: i for i, v in enumerate(self.values)}

    def _lookup(self, value: Label) -> int | None:
        """The class of ``value``; a set of sentiment roles (-1/0/1, or two of them) also knows
        their other spellings (a file saying ``negative`` or ``NEG`` scored against a run
        trained on -1/0/1, mixed spellings in one training file)."""
        index = self._index.get(value)
        if index is None and (roles := self._roles) is not None:
            index = roles.get(_role(value))
        return index

    @property
    def _roles(self) -> dict[int, int] | None:
        """{role: class id} when every class is a distinct sentiment role, else None."""
        roles = {_role(v): i for i, v in enumerate(self.values)}
        return roles if None not in roles and len(roles) == len(self.values) else None

    def to_class(self, value: Label) -> int:
        index = self._lookup(value)
        if index is None:
            raise KeyError(value)
        return index

    @property
    def names(self) -> tuple[str, ...]:
        """Column-friendly class names: negative/neutral/positive for -1/0/1, else the values."""
        if self.values == SENTIMENT:
            return SENTIMENT_NAMES
        return tuple(str(v) for v in self.values)

    @property
    def neutral(self) -> Label | None:
        roles = self.sentiment
        return None if roles is None else self.values[roles[0]]

    @cached_property
    def sentiment(self) -> dict[int, int] | None:
        """{-1: class id, 0: class id, 1: class id} when these are the SentiRuEval classes."""
        if self.multilabel:
            return None
        roles = {_role(v): i for i, v in enumerate(self.values)}
        return roles if len(roles) == 3 and set(roles) == {-1, 0, 1} and len(self.values) == 3 else None

    def to_classes(self, values: LabelTuple) -> tuple[int, ...]:
        """A multi-label record's class ids, in class order."""
        return tuple(sorted({self.to_class(v) for v in values}))

    def indicator(self, values: LabelTuple) -> tuple[float, ...]:
        """A multi-label training target: 1.0 for each of ``values``' classes, else 0.0."""
        hot = set(self.to_classes(values))
        return tuple(float(i in hot) for i in range(len(self.values)))

    @classmethod
    def of(cls, labels: Sequence[object] | None, multilabel: bool = False) -> LabelSet:
        """A run's stored ``data.labels`` (empty: a run from before label sets: -1/0/1)."""
        if not labels:
            return cls(SENTIMENT, multilabel)
        return cls(tuple(normalise(v, "data.labels") for v in labels), multilabel)

    @classmethod
    def from_data(cls, found: Iterable[Label], multilabel: bool = False) -> LabelSet:
        """The labels seen in the data, ordered: numbers ascending, text alphabetically after
        them. Sentiment spellings only (-1/0/1, negative/neutral/positive, neg/neu/pos):
        ordered negative, neutral, positive, and mixed spellings become -1/0/1."""
        values = set(found)
        if len(values) < 2 - multilabel:
            raise SentinetError(f"the training data holds {len(values)} distinct label(s) "
                                f"({', '.join(repr(str(v)[:40]) for v in values) or 'none'}); a classifier needs at least "
                                "two classes")
        roles = {_role(v) for v in values}
        if None not in roles and not multilabel:
            if all(isinstance(v, str) for v in values) and len(roles) == len(values):
                return cls(tuple(sorted(values, key=_role)))
            return cls(tuple(sorted(roles)))
        _refuse_case_variants(values)
        return cls(tuple(sorted(values, key=lambda v: (isinstance(v, str), str(v)))), multilabel)


def _refuse_case_variants(values: set[Label]) -> None:
    """Text labels that differ only in case (``Speech``/``speech``) are one class misspelt far
    more often than two: refused, unless data.labels lists both (then they are two classes,
    exactly as spelt). A set of sentiment words alone never gets here: any case is one class."""
    seen: dict[str, str] = {}
    for value in sorted((v for v in values if isinstance(v, str)), key=str):
        key = value.casefold()
        if key in seen:
            raise SentinetError(f"the training data holds labels {seen[key][:40]!r} and {value[:40]!r}, which "
                                "differ only in case: make them one spelling, or list both in "
                                "data.labels to keep them as two classes")
        seen[key] = value


def unwritable(value: Label) -> bool:
    """A text label holding a tab, line break or other control character: no output format
    writes it as a cell (TSV splits on it, a CSV cell breaks lines), and none is ever meant."""
    return isinstance(value, str) and any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value)


def _role(value: Label) -> int | None:
    """-1/0/1 for a sentiment spelling, else None."""
    if isinstance(value, int):
        return value if value in (-1, 0, 1) else None
    return _SENTIMENT_WORDS.get(value.lower())


def check_known(records: Sequence, labels: LabelSet, path: str) -> None:
    """Every label in ``records`` belongs to ``labels``: else a one-line error naming it."""
    for r in records:
        for value in label_values(r.labels):
            if value not in labels:
                raise SentinetError(f"{path}: id {r.id!r} has label {value!r}, which is not in the "
                                    f"run's labels {list(labels.values)} (see data.labels)")


def label_values(labels: dict[str, Label | LabelTuple]) -> list[Label]:
    """Every label a record holds, a multi-label record's tuples opened up."""
    return [v for value in labels.values() for v in (value if isinstance(value, (tuple, list)) else (value,))]


def shape_labels(records: Sequence, multilabel: bool, path: str) -> None:
    """Make every record's labels what the run reads, in place: for a multi-label run a tuple
    (a single label becomes a one-label tuple); for any other run one label, and a record with
    several is refused in one line that names the setting for them."""
    for r in records:
        for key, value in r.labels.items():
            if multilabel:
                if not isinstance(value, tuple):
                    r.labels[key] = (value,)
            elif isinstance(value, tuple):
                if len(value) != 1:
                    raise SentinetError(
                        f"{path}: id {r.id[:40]!r} has {len(value)} labels "
                        f"({', '.join(repr(str(v)[:20]) for v in value[:4]) or 'an empty list'}); "
                        "for several labels per text set model.head: multilabel")
                r.labels[key] = value[0]


def tweet_label(labels: dict[str, Label], policy: str, neutral: Label | None = 0) -> Label | None:
    """One training label for a tweet, or None when it should not be trained on."""
    values = list(labels.values())
    if not values:
        return None
    if len(set(values)) == 1:
        return values[0]
    if policy == "neutral":
        return neutral
    if policy == "majority":
        (top, n), *rest = Counter(values).most_common()
        return None if rest and rest[0][1] == n else top
    return None


def training_pairs(records: Sequence, policy: str, labels: LabelSet) -> list[tuple[object, int | tuple]]:
    """(record, class id) for every record the label rule keeps; for a multi-label run
    (record, 0/1 per class)."""
    if labels.multilabel:
        return [(r, labels.indicator(r.labels[next(iter(r.labels))])) for r in records if r.labels]
    pairs = []
    for r in records:
        label = tweet_label(r.labels, policy, labels.neutral)
        if label is not None:
            pairs.append((r, labels.to_class(label)))
    return pairs


def require_labels(records: Sequence, path: str, detail: str = "") -> None:
    """At least one label to score or train on; ``detail`` says where labels were looked for
    and what sets that (the column and the file's fields, the key or flag to change)."""
    if not any(r.labels for r in records):
        raise SentinetError(f"{path}: no record carries a label{detail}")
