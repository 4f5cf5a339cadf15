"""One record, whatever file it came from, and the checks every reader shares: a readable
data file, a bounded line, a label as the run stores it (one value, or a tuple of them)."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from sentinet.data.encoding import LONE_SURROGATE
from sentinet.errors import SentinetError
from sentinet.labels import normalise, shape_labels

SINGLE_LABEL = "label"  # Record.labels key for formats with one label (or one set of labels) per text
# A line or text past this is no short text: a binary file, a missing line break, or an attack.
# Refused rather than cut, and read no further than this, so memory stays bounded whatever comes.
MAX_LINE_CHARS = 10_000_000


@dataclass
class Record:
    """One text. ``labels`` maps company (or "label") → its label(s); empty means unlabelled."""

    id: str
    text: str
    labels: dict[str, int | str | tuple] = field(default_factory=dict)  # a tuple: a multi-label record
    # Metadata, not content (records compare equal without it): the date as written in the
    # file (unix time or ISO; parsed only when a temporal split needs it) and the file's path.
    date: str | None = field(default=None, compare=False)
    source: str = field(default="", compare=False)


def parse_label(value: object, where: str) -> int | str | None:
    """A label as the run stores it (see labels.normalise); None (unlabelled) for NULL or empty."""
    return normalise(value, where)


def check_readable(path: Path) -> None:
    if path.is_dir():
        raise SentinetError(f"{path}: is a directory, expected a data file")
    if not path.exists():
        raise SentinetError(f"{path}: file not found")
    mode = path.stat().st_mode
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):  # /dev/zero never ends
        raise SentinetError(f"{path}: a device, not a data file (for a stream, pipe it in and give -)")
    if stat.S_ISREG(mode) and path.stat().st_size == 0:
        raise SentinetError(f"{path}: empty file, no records")


def checked_length(text: str, name: str, n: int | str, what: str = "line") -> str:
    if len(text) > MAX_LINE_CHARS:
        raise SentinetError(f"{name}: {what} {n} is over {MAX_LINE_CHARS:,} characters: not a short text "
                            "(a binary file, or missing line breaks?)")
    return text


def label_value(value: object, where: str) -> int | str | tuple | None:
    """One label, or a tuple of them for a list (a JSON list, a split cell, fastText's several
    ``__label__``); an empty JSON list is the empty set, a label in it missing is refused."""
    if not isinstance(value, list):
        return _checked_label(parse_label(value, where), where)
    labels = []
    for item in value:
        label = _checked_label(parse_label(item, where), where)
        if label is None:
            raise SentinetError(f"{where}: an empty or null label in the list {str(value)[:80]}")
        labels.append(label)
    return tuple(dict.fromkeys(labels))  # each once, in the order written


def _checked_label(label: int | str | None, where: str) -> int | str | None:
    """A label with a lone surrogate is refused where it is read: a class name is written in
    every output, and no writer can encode it (control characters: training_data refuses)."""
    if isinstance(label, str) and LONE_SURROGATE.search(label):
        raise SentinetError(f"{where}: label {label!r} holds a lone surrogate (an unpaired JSON "
                            "\\ud800-\\udfff escape); fix the label")
    return label


# Formats whose empty label can only be written one way: in a multi-label run it is the empty
# set (what predict writes there for a text given none of the classes), so it reads back.
EMPTY_IS_NO_CLASS = ("tsv", "csv", "fasttext")


def fit_to_run(records: list[Record], format: str | None, multilabel: bool, where: str) -> None:
    """Records' labels as the run reads them, in place: in a multi-label run a record of a
    ``format`` whose empty label can only mean "none of the classes" (an empty TSV/CSV cell, a
    fastText line with no ``__label__``) gets the empty set; then sentinet.labels.shape_labels."""
    if multilabel and format in EMPTY_IS_NO_CLASS:
        for r in records:
            if not r.labels:
                r.labels = {SINGLE_LABEL: ()}
    shape_labels(records, multilabel, where)
